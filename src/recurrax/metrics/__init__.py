"""Metrics that take ``(y_true, y_pred)``.

Forecasting (`recurrax.metrics` point and probabilistic scores, NumPy float64): `mae`, `rmse`, `mape`,
`smape` (the M3 definition), `mase` (seasonal, in-sample scale), `quantile_loss`, `crps_gaussian`,
`crps_samples`, `coverage`.

Translation: `bleu` (corpus BLEU via sacrebleu).
"""

from ._bleu import bleu as bleu
from ._forecast import coverage as coverage
from ._forecast import crps_gaussian as crps_gaussian
from ._forecast import crps_samples as crps_samples
from ._forecast import mae as mae
from ._forecast import mape as mape
from ._forecast import mase as mase
from ._forecast import quantile_loss as quantile_loss
from ._forecast import rmse as rmse
from ._forecast import smape as smape
