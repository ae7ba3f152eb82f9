"""`garch_rolling`: the GARCH(1,1) baseline of volatility forecasting (`recurrax.tasks.forecast._volatility`),
fitted by the ``arch`` package (Sheppard; the ``finance`` extra) on the same rolling origins as the LSTM.

The model (Bollerslev 1986) with a constant mean:

    r_t = mu + e_t,   e_t = sigma_t z_t,   sigma_t^2 = omega + alpha e_{t-1}^2 + beta sigma_{t-1}^2,

or, with ``asymmetric = True``, GJR-GARCH(1,1,1) (Glosten, Jagannathan & Runkle 1993), whose negative
returns raise the variance more (the leverage effect): ``sigma_t^2 = omega + (alpha + gamma [e_{t-1} < 0])
e_{t-1}^2 + beta sigma_{t-1}^2``. ``z_t`` standard normal (``dist = "normal"``) or a Student-t with ``nu`` degrees of freedom scaled to unit
variance (``dist = "t"``, Bollerslev 1987). At each origin ``o`` the parameters are estimated by maximum
likelihood on ``r[:o]`` (``arch_model(...).fit(last_obs=o)``), then held fixed while the variance recursion
runs through the block's returns: the forecast of ``r_t`` is ``mu + sigma_t T`` with ``sigma_t`` from
``r[:t]`` (arch's one-step ``forecast(start=o - 1)``). As a `Predictive`: ``loc = mu``, ``scale = sigma_t``
(normal, ``df = inf``) or ``sigma_t sqrt((nu - 2) / nu)`` (``df = nu``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..._extras import require
from ._volatility import Predictive, blocks, check_rolling, log_returns

DISTS = ("normal", "t")


def garch_rolling(
    returns: np.ndarray, origins: Sequence[int], dist: str = "t", *, asymmetric: bool = False
) -> tuple[Predictive, list[dict]]:
    """One-step GARCH(1,1) forecasts ``[N, T - origins[0]]`` of returns ``[N, T]`` (percent units: arch's
    optimiser expects a scale near 1), each series on its own, and the fitted parameters of each series and
    origin (``series``, ``origin``, ``mu``, ``omega``, ``alpha``, ``beta``, for GJR ``gamma`` and for ``t``
    ``nu``)."""
    if dist not in DISTS:
        raise ValueError(f"unknown dist {dist!r}; expected one of {', '.join(DISTS)}")
    arch_model = require("arch", "the GARCH baseline").arch_model
    r, origins = check_rolling(returns, origins, 2)
    rows, fitted = [], []
    for i, series in enumerate(r):
        parts = []
        for start, stop in blocks(origins, r.shape[1]):
            model = arch_model(series[:stop], mean="Constant", vol="GARCH", p=1, o=int(asymmetric), q=1, dist=dist,
                               rescale=False)  # fmt: skip
            res = model.fit(last_obs=start, disp="off")
            ahead = res.forecast(horizon=1, start=start - 1, reindex=False)
            mean, variance = (np.asarray(a, np.float64)[:-1, 0] for a in (ahead.mean, ahead.variance))
            p = res.params
            nu = float(p["nu"]) if dist == "t" else np.inf
            scale = np.sqrt(variance * ((nu - 2) / nu if dist == "t" else 1.0))
            parts.append(Predictive(mean, scale, nu))
            fitted.append({"series": i, "origin": start, "mu": float(p["mu"]), "omega": float(p["omega"]),
                           "alpha": float(p["alpha[1]"]), "beta": float(p["beta[1]"]),
                           **({"gamma": float(p["gamma[1]"])} if asymmetric else {}),
                           **({"nu": nu} if dist == "t" else {})})  # fmt: skip
        rows.append(Predictive.concat(parts))
    return Predictive.concat([p[None] for p in rows], axis=0), fitted


def index_returns(names: Sequence[str] = ("sp500", "nasdaq")):
    """Daily percent log returns (`log_returns` of the adjusted close) of price series that the ``arch``
    package ships (``arch.data.sp500``: the S&P 500, ``arch.data.nasdaq``: the NASDAQ Composite, 1999-2018;
    no download), as a DataFrame with one column per name on their common dates (each row the return's day)."""
    closes = {name: require(f"arch.data.{name}", "index returns").load()["Adj Close"] for name in names}
    prices = pd.DataFrame(closes).dropna()
    return pd.DataFrame(log_returns(prices.to_numpy().T).T, index=prices.index[1:], columns=list(names))
