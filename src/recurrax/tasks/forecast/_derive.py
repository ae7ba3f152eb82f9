"""Settings derived from the data when the config leaves them out (None): the history window and the number
of training steps of ``model.kind = "auto"``; the explicit kinds keep their fixed defaults (24 and 1000,
filled in by `ForecastConfig`).

- ``data.input_size`` (`derive_input_size`): ``max(3 h, 2 m)`` for horizon ``h`` and period ``m``, at most
  the longest input any training window has (``max_i n_i - h``), at least 1. Three horizons is the window
  that did best for every M3 frequency in the benchmark rounds (``--input-scale 1.5`` on ``2 h``,
  docs/forecast.md); two seasons let the model compare a season with the one before (not measured).
- ``train.steps`` (`derive_steps`): ``EPOCHS`` passes over the training windows,
  ``ceil(EPOCHS W / batch_size)`` for ``W`` windows, clipped to ``[MIN_STEPS, MAX_STEPS]``: a small
  collection trains for fewer steps than a large one (the M3 frequencies get 1,300-3,000).
- ``model.ensemble``: 3 members for auto's LSTM (`fit_auto`), 1 otherwise (`build_model`).

User-given values are kept as given.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from ._config import ForecastConfig

EPOCHS, MIN_STEPS, MAX_STEPS = 50, 200, 3000
AUTO_ENSEMBLE = 3


def count_windows(
    lengths: Sequence[int], horizon: int, *, stride: int = 1, min_input: int = 1, max_windows: int | None = None
) -> int:
    """How many windows `make_windows` cuts from series of ``lengths`` (without building them)."""
    total = 0
    for n in lengths:
        count = len(range(n - horizon, min_input - 1, -stride))
        total += count if max_windows is None else min(count, max_windows)
    return total


def derive_input_size(lengths: Sequence[int], horizon: int, period: int) -> int:
    """``max(3 horizon, 2 period)``, at most ``max(lengths) - horizon``, at least 1 (see the module docstring).

    Example:
        >>> derive_input_size([40, 60], horizon=6, period=12), derive_input_size([20, 25], 8, 4)
        (24, 17)
    """
    return max(1, min(max(3 * horizon, 2 * period), max(lengths) - horizon))


def derive_steps(windows: int, batch_size: int) -> int:
    """``ceil(EPOCHS windows / batch_size)`` clipped to ``[MIN_STEPS, MAX_STEPS]``.

    Example:
        >>> derive_steps(100, 256), derive_steps(10_000, 256), derive_steps(10**6, 256)
        (200, 1954, 3000)
    """
    return int(np.clip(math.ceil(EPOCHS * windows / batch_size), MIN_STEPS, MAX_STEPS))


def resolve_config(cfg: ForecastConfig, values: Sequence[np.ndarray]) -> ForecastConfig:
    """``cfg`` with ``data.input_size`` and ``train.steps`` derived from the training histories ``values``
    where they are None (kind ``auto``; an explicit kind's config has them already, `ForecastConfig`).
    ``model.ensemble`` stays as it is (None reads as 1 in `build_model`, 3 in `fit_auto`)."""
    d = cfg.data
    lengths = [np.size(v) for v in values]
    input_size = derive_input_size(lengths, d.horizon, d.period) if d.input_size is None else d.input_size
    steps = cfg.train.steps
    if steps is None:
        windows = count_windows(lengths, d.horizon, stride=d.stride, min_input=d.min_input, max_windows=d.max_windows)
        steps = derive_steps(windows, d.batch_size)
    if (input_size, steps) == (d.input_size, cfg.train.steps):
        return cfg
    return dataclasses.replace(cfg, data=dataclasses.replace(d, input_size=input_size),
                               train=dataclasses.replace(cfg.train, steps=steps))  # fmt: skip
