"""Input drift statistics: the population stability index, the two-sample KS test and `ReferenceProfile`,
the training-time reference that a served model's inputs are compared with (`recurrax.serve.DriftMonitor`).

Population stability index over ``b`` bins with reference fractions ``r_i`` and current fractions ``c_i``
(Siddiqi 2006, *Credit Risk Scorecards*; Yurdakul 2018)::

    PSI = sum_i (c_i - r_i) * ln(c_i / r_i)

The bins are quantile bins of the reference (``b - 1`` interior edges at the ``k / b`` quantiles, so each
holds about ``1 / b`` of the reference; repeated edges of discrete data are merged), and an empty bin's
fraction is replaced by ``eps`` so that the logarithm stays finite. Usual reading: PSI < 0.1 no significant
shift, 0.1 to 0.25 a moderate shift worth a look, > 0.25 a significant shift. The two-sample
Kolmogorov-Smirnov test (`scipy.stats.ks_2samp`) adds a distribution-free test per feature.

Inputs of any rank are read as rows of features: ``[..., D]`` becomes ``[N, D]`` (a ``[B, T, D]`` batch of
windows gives ``B * T`` rows); a 1-d array is one feature. The classify, forecast and anomaly tasks write
the profile of their training inputs to ``reference_profile.json`` (`REFERENCE_PROFILE_FILE`) in the run
directory, in the units the served model receives them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

PROFILE_FORMAT = 1
REFERENCE_PROFILE_FILE = "reference_profile.json"


class KSResult(NamedTuple):
    """The two-sample Kolmogorov-Smirnov statistic (largest gap between the empirical CDFs) and p-value."""

    statistic: float
    pvalue: float


def finite_vector(values: ArrayLike, name: str, allow_empty: bool = False) -> np.ndarray:
    """``values`` as finite float64 ``[N]``; a ValueError naming ``name`` if empty (unless ``allow_empty``) or
    not finite."""
    array = np.asarray(values, np.float64).reshape(-1)
    if array.size == 0 and not allow_empty:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return array


def finite_rows(values: ArrayLike, name: str, features: int | None = None, allow_empty: bool = False) -> np.ndarray:
    """``[..., D]`` (or ``[N]`` for one feature) as finite float64 ``[N, D]``."""
    array = np.asarray(values, np.float64)
    array = array.reshape(-1, 1) if array.ndim <= 1 else array.reshape(-1, array.shape[-1])
    if array.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} is empty")
    if features is not None and array.shape[1] != features:
        raise ValueError(f"{name} has {array.shape[1]} features, the reference has {features}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return array


def _quantile_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    if bins < 2:
        raise ValueError(f"bins must be at least 2, got {bins}")
    return np.unique(np.quantile(reference, np.arange(1, bins) / bins))


def bin_fractions(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Fractions of ``values`` in the bins ``(-inf, e_1], (e_1, e_2], ..., (e_last, inf)``."""
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=edges.size + 1)
    return counts / values.size


def psi_from_fractions(reference_fractions: np.ndarray, current_fractions: np.ndarray, eps: float) -> float:
    """``sum (c - r) log(c / r)`` over the bins, both fractions floored at ``eps`` (see `psi`)."""
    r, c = np.maximum(reference_fractions, eps), np.maximum(current_fractions, eps)
    return float(np.sum((c - r) * np.log(c / r)))


def psi(reference: ArrayLike, current: ArrayLike, bins: int = 10, *, eps: float = 1e-4) -> float:
    """Population stability index of ``current`` against ``reference`` (1-d samples, any lengths).

    Bins are the quantile bins of ``reference``; empty bins count as fraction ``eps``. 0 means the same
    binned distribution; > 0.25 is usually read as a significant shift.

        >>> round(psi([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [1, 2, 3, 9], bins=2), 6)  # 0.25 ln 1.5 + 0.25 ln 2
        0.274653
    """
    ref, cur = finite_vector(reference, "reference"), finite_vector(current, "current")
    edges = _quantile_edges(ref, bins)
    return psi_from_fractions(bin_fractions(ref, edges), bin_fractions(cur, edges), eps)


def ks_test(reference: ArrayLike, current: ArrayLike) -> KSResult:
    """Two-sample Kolmogorov-Smirnov test (two-sided, `scipy.stats.ks_2samp`) of two 1-d samples."""
    result = stats.ks_2samp(finite_vector(reference, "reference"), finite_vector(current, "current"))
    return KSResult(float(result.statistic), float(result.pvalue))


@dataclasses.dataclass(frozen=True)
class ReferenceProfile:
    """What a monitor compares against: per feature the quantile bin edges and reference bin fractions for
    PSI, and a bounded random sample ``[S, D]`` of the reference rows for the KS test.

    Saved as plain JSON with `to_dict` / `from_dict` (`save` / `load` for files), so a run directory and an
    exported artifact can carry it.
    """

    edges: tuple[np.ndarray, ...]
    fractions: tuple[np.ndarray, ...]
    sample: np.ndarray
    names: tuple[str, ...]
    count: int

    @property
    def features(self) -> int:
        """Number of features ``D``."""
        return len(self.names)

    @classmethod
    def from_values(
        cls,
        values: ArrayLike,
        *,
        bins: int = 10,
        sample_size: int = 2000,
        names: list[str] | None = None,
        seed: int = 0,
    ) -> ReferenceProfile:
        """The profile of training-time inputs ``values`` ``[N, D]`` (or ``[..., D]``, or ``[N]``).

        ``sample_size`` rows, drawn without replacement with ``seed`` (all rows when fewer), are kept for KS.
        """
        rows = finite_rows(values, "values")
        count, features = rows.shape
        names = [f"x{i}" for i in range(features)] if names is None else list(names)
        if len(names) != features:
            raise ValueError(f"got {len(names)} feature names for {features} features")
        edges = tuple(_quantile_edges(rows[:, j], bins) for j in range(features))
        fractions = tuple(bin_fractions(rows[:, j], e) for j, e in enumerate(edges))
        if count > sample_size:
            rows = rows[np.sort(np.random.default_rng(seed).choice(count, sample_size, replace=False))]
        return cls(edges, fractions, rows, tuple(names), count)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (lists of floats)."""
        return {
            "format": PROFILE_FORMAT,
            "names": list(self.names),
            "count": self.count,
            "edges": [e.tolist() for e in self.edges],
            "fractions": [f.tolist() for f in self.fractions],
            "sample": self.sample.T.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReferenceProfile:
        """The profile saved by `to_dict`; a wrong format or inconsistent lengths is a ValueError."""
        if not isinstance(data, dict) or data.get("format") != PROFILE_FORMAT:
            raise ValueError(f"not a reference profile of format {PROFILE_FORMAT}")
        try:
            names = tuple(str(n) for n in data["names"])
            edges = tuple(np.asarray(e, np.float64).reshape(-1) for e in data["edges"])
            fractions = tuple(np.asarray(f, np.float64).reshape(-1) for f in data["fractions"])
            sample = np.asarray(data["sample"], np.float64).reshape(len(names), -1).T
            count = int(data["count"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"malformed reference profile: {error}") from None
        if not len(names) == len(edges) == len(fractions) or sample.shape[0] == 0:
            raise ValueError("malformed reference profile: names, edges, fractions and sample disagree")
        if any(f.size != e.size + 1 for e, f in zip(edges, fractions, strict=True)):
            raise ValueError("malformed reference profile: each feature needs one more fraction than edges")
        return cls(edges, fractions, sample, names, count)

    def save(self, path: str | Path) -> Path:
        """Write `to_dict` as JSON to ``path`` (returned)."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict()))
        return path

    @classmethod
    def load(cls, path: str | Path) -> ReferenceProfile:
        """The profile that `save` wrote to ``path``; a file that is not one is a ValueError naming it."""
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except ValueError as error:  # json.JSONDecodeError included
            raise ValueError(f"{path}: {error}") from None
