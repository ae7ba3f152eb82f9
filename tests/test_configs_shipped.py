"""Every config shipped in configs/ loads into its task's typed config and round-trips through TOML."""

from __future__ import annotations

from pathlib import Path

import pytest

from recurrax.config import load_config, to_toml
from recurrax.tasks import anomaly, ctc, forecast, lm, rl

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TASKS = {"lm": lm.LMConfig, "forecast": forecast.ForecastConfig, "anomaly": anomaly.AnomalyConfig, "ctc": ctc.CTCConfig,
         "rl": rl.RLConfig}


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.name)
def test_shipped_config_loads_and_round_trips(path, tmp_path):
    config_type = TASKS[path.stem.split("_")[0]]
    cfg = load_config(config_type, path)
    written = tmp_path / "config.toml"
    written.write_text(to_toml(cfg))
    assert load_config(config_type, written) == cfg
