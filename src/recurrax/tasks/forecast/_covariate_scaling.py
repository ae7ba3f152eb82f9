"""`CovariateScaler`: exogenous and static covariates standardised per channel before they reach a model.

Covariate channels come in `covariate_names` order: the calendar features first (a sine and a cosine each,
already in ``[-1, 1]``), then the exogenous and static columns of the frame, which can be of any scale (a
price in the hundreds, a store size in the thousands) and would saturate the LSTM's gates. `fit` takes
each of those channels' mean and standard deviation over every time step of the training histories; the
calendar channels keep ``loc = 0``, ``scale = 1``. The scaler is stored in the run's checkpoint and applied
to the covariates of training windows and of forecasts alike: ``z = (x - loc) / scale``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class CovariateScaler:
    """``loc``, ``scale`` ``[K]``: one affine map per covariate channel (identity for calendar channels)."""

    loc: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, covariates: Sequence[np.ndarray], calendar_channels: int) -> CovariateScaler:
        """Standardise channels ``calendar_channels..K-1`` of ``covariates`` (``[n_i, K]`` per series) by their
        mean and standard deviation over all rows of all series; a constant channel keeps scale 1."""
        rows = np.concatenate([np.asarray(c, np.float64) for c in covariates])
        loc, scale = rows.mean(axis=0), rows.std(axis=0)
        loc[:calendar_channels], scale[:calendar_channels] = 0.0, 1.0
        return cls(loc, np.where(scale > 0, scale, 1.0))

    @classmethod
    def identity(cls, channels: int) -> CovariateScaler:
        return cls(np.zeros(channels), np.ones(channels))

    def __call__(self, covariates: np.ndarray) -> np.ndarray:
        """``(covariates - loc) / scale`` over the last axis ``K`` (any leading shape)."""
        return (np.asarray(covariates, np.float64) - self.loc) / self.scale

    def to_json(self) -> dict[str, Any]:
        return {"loc": self.loc.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CovariateScaler:
        return cls(np.asarray(data["loc"], np.float64), np.asarray(data["scale"], np.float64))
