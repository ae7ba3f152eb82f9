"""The language-modelling evaluator of benchmark protocols (``recurrax benchmark``).

``split="dev"`` trains and scores the validation split (the test text is not scored); ``split="test"``
trains the same run and scores the test split. The config must leave a test split (``data.test_fraction >
0`` or a dataset with an official one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...config import from_dict
from ._config import LMConfig
from ._run import fit_lm


def evaluate_protocol(
    config: dict[str, Any],
    *,
    split: str,
    seed: int,
    fold: int,
    folds: int,
    workdir: Path,
    data_dir: Path | None,
) -> dict[str, float]:
    """`recurrax.lifecycle.Evaluator` for language models: ``config`` holds the `LMConfig` sections; returns
    ``loss`` (nats per token), ``perplexity`` and ``bpc`` of the scored split."""
    cfg = from_dict(LMConfig, {**config, "train": {**config.get("train", {}), "seed": seed}})
    scored = "valid" if split == "dev" else "test"
    run = fit_lm(cfg, workdir / "run", data_dir=data_dir, progress=False, scored_splits=(scored,))
    if scored not in run.metrics:
        raise ValueError("the LM protocol's config leaves no test split: set data.test_fraction > 0")
    return dict(run.metrics[scored])
