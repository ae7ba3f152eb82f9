"""Metrics that take ``(y_true, y_pred)``.

Forecasting (`recurrax.metrics` point and probabilistic scores, NumPy float64): `mae`, `rmse`, `mape`,
`smape` (the M3 definition), `mase` (seasonal, in-sample scale), `quantile_loss`, `crps_gaussian`,
`crps_samples`, `coverage`.

Translation: `bleu` (corpus BLEU via sacrebleu). Classification: `accuracy`, `macro_f1`, `confusion_matrix`.
Language models: `lm_metrics` (loss, perplexity, bits per character from totals), `bzip2_bpc`.

Anomaly detection (``(y_true, y_pred)`` boolean ``[T]``): `point_prf`, `event_prf` (Telemanom's event-wise
scores), `point_adjusted_prf` (inflated, reported beside the others); the NAB score with its profiles
(`NAB_PROFILES`, `nab_file_score`, `nab_corpus_score`, `nab_threshold_sweep`).

Input drift (reference sample against current sample): `psi`, `ks_test` (`KSResult`) and the training-time
`ReferenceProfile` (saved as `REFERENCE_PROFILE_FILE`) that `recurrax.serve.DriftMonitor` compares served inputs
with, through `finite_rows`, `finite_vector`, `bin_fractions` and `psi_from_fractions`.
"""

from ._anomaly import anomaly_runs as anomaly_runs
from ._anomaly import event_prf as event_prf
from ._anomaly import point_adjusted_prf as point_adjusted_prf
from ._anomaly import point_prf as point_prf
from ._bleu import bleu as bleu
from ._classification import accuracy as accuracy
from ._classification import confusion_matrix as confusion_matrix
from ._classification import macro_f1 as macro_f1
from ._drift import REFERENCE_PROFILE_FILE as REFERENCE_PROFILE_FILE
from ._drift import KSResult as KSResult
from ._drift import ReferenceProfile as ReferenceProfile
from ._drift import bin_fractions as bin_fractions
from ._drift import finite_rows as finite_rows
from ._drift import finite_vector as finite_vector
from ._drift import ks_test as ks_test
from ._drift import psi as psi
from ._drift import psi_from_fractions as psi_from_fractions
from ._edit_distance import cer as cer
from ._edit_distance import edit_distance as edit_distance
from ._edit_distance import wer as wer
from ._forecast import coverage as coverage
from ._forecast import crps_gaussian as crps_gaussian
from ._forecast import crps_samples as crps_samples
from ._forecast import mae as mae
from ._forecast import mape as mape
from ._forecast import mase as mase
from ._forecast import quantile_loss as quantile_loss
from ._forecast import rmse as rmse
from ._forecast import smape as smape
from ._language import bzip2_bpc as bzip2_bpc
from ._language import lm_metrics as lm_metrics
from ._nab import NAB_PROFILES as NAB_PROFILES
from ._nab import NabFileScore as NabFileScore
from ._nab import NabLabelled as NabLabelled
from ._nab import NabLabels as NabLabels
from ._nab import NabProfile as NabProfile
from ._nab import NabResult as NabResult
from ._nab import nab_corpus_score as nab_corpus_score
from ._nab import nab_file_score as nab_file_score
from ._nab import nab_threshold_sweep as nab_threshold_sweep
from ._nab import scaled_sigmoid as scaled_sigmoid
