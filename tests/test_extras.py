"""The light base install: the library and the command line load without the optional packages, and a
feature that needs one names its extra in a one-line error.

Oracle: a fresh interpreter in which the optional packages cannot be imported (``sys.modules[name] = None``
makes ``import name`` raise ImportError, as if it were not installed); and pyproject.toml itself.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

from recurrax._extras import EXTRA_OF

ROOT = Path(__file__).resolve().parents[1]
BLOCKED = sorted(EXTRA_OF)


def _run_without_extras(code: str) -> subprocess.CompletedProcess:
    prelude = f"import sys\nfor name in {BLOCKED!r}:\n    sys.modules[name] = None\n"
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)  # fmt: skip


def test_the_base_install_loads_every_layer_and_names_the_extras():
    result = _run_without_extras(
        """
        import recurrax as rx
        from recurrax import cells, data, lifecycle, metrics, models, scan, serve, train
        from recurrax.tasks import anomaly, classify, forecast, lm, seq2seq
        from recurrax.serve import export_run, load_artifact
        from recurrax.cli import main
        assert main(["benchmark", "list"]) == 0
        assert main(["--help"]) == 0
        from recurrax._extras import MissingExtra
        for call, extra in [
            (lambda: metrics.bleu(["a"], ["a"]), "bleu"),
            (lambda: serve.create_app, "serve"),
            (lambda: forecast.forecast_baseline("theta", [[1.0, 2.0, 3.0, 4.0]], 2), "forecast"),
            (lambda: forecast.read_frame("x.parquet"), "parquet"),
        ]:
            try:
                call()
            except MissingExtra as error:
                assert f"pip install 'recurrax[{extra}]'" in str(error), error
            else:
                raise AssertionError(f"no MissingExtra for {extra}")
        assert main(["tune", "lm", "-p", "optim.lr=float:1e-4:1e-2:log", "--trials", "1"]) == 1
        assert main(["serve", "."]) == 1
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
    assert "recurrax tune needs optuna: pip install 'recurrax[tune]'" in result.stderr
    assert "recurrax serve needs uvicorn: pip install 'recurrax[serve]'" in result.stderr


def test_pyproject_base_is_light_and_every_extra_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = {dep.split(">")[0].split("=")[0].split("<")[0].strip().lower() for dep in project["dependencies"]}
    heavy = {"fastapi", "uvicorn", "httpx", "prometheus-client", "optuna", "sacrebleu", "pyarrow", "statsmodels"}
    assert not base & heavy
    extras = project["optional-dependencies"]
    assert set(EXTRA_OF.values()) <= set(extras)
    declared = " ".join(extras["test"]).lower()
    for module in EXTRA_OF:
        assert module.replace("_", "-") in declared or module in declared, module
