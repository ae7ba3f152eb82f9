"""Time-series forecasting: global recurrent forecasters over many series, statistical baselines, backtests.

    >>> from recurrax.tasks import forecast as fc
    >>> series = fc.SeriesSet.from_frame(frame, freq="MS")                 # doctest: +SKIP
    >>> history, holdout = series.split_last(18)                           # doctest: +SKIP
    >>> cfg = fc.ForecastConfig(data=fc.DataConfig(horizon=18, period=12))  # doctest: +SKIP
    >>> run = fc.fit_auto(cfg, history, "runs/m3")                         # doctest: +SKIP
    >>> run.selection.winner                                               # doctest: +SKIP
    >>> out = fc.predict_series(run, history)                              # doctest: +SKIP
    >>> cfg = fc.ForecastConfig(model=fc.ModelConfig(kind="direct", head="student_t"))  # doctest: +SKIP
    >>> run = fc.fit_forecast(cfg, history, "runs/m3")                     # doctest: +SKIP
    >>> out = fc.predict(run.model, cfg, history.values, scaler=run.scaler, levels=[0.1, 0.9])  # doctest: +SKIP
    >>> fc.forecast_baseline("naive2", history.values, 18, period=12)     # doctest: +SKIP

``model.kind = "auto"`` (the default, `fit_auto`): the LSTM against the baselines on a validation window,
the best forecasts (`Selection`, `catch_implausible`), settings derived from the data (`resolve_config`).
Pieces: data (`SeriesSet`, `fill_missing`, `Scaler`, `make_windows`, `Windows`), covariates
(`calendar_features`, `covariate_names`, `future_covariates`, `CovariateScaler`), the models
(`Forecaster`: direct or recursive; `Seq2SeqForecaster`: encoder-decoder with optional attention; heads
point / gaussian / student_t / quantile; `head_loss`, `head_quantiles`), `ForecastEnsemble` (seed
ensembles trained with `vmap`), configs (`ForecastConfig`, `ModelConfig`, `DataConfig`), runs
(`build_model`, `fit_forecast`, `forecast_loss`, `predict`, `Forecast`, `load_forecast`; `sample_paths`:
DeepAR's ancestral sampling), baselines (`forecast_baseline`: naive, seasonal_naive, naive2, theta, ets;
`is_seasonal`, `seasonal_indices`, `deseasonalize`), `backtest` (rolling origin; `point_scores`),
`write_forecast_plot` and `write_forecast_report`. Files (what ``recurrax forecast`` drives): long frames
in and out (`read_frame`, `read_series`, `write_frame`, `forecast_frame`, `future_stamps`) and runs on
them (`load_series`, `fit_holdout`, `holdout_forecast`, `evaluate_forecast`, `predict_series`,
`backtest_run`, `backtest_table`; `backtest_refit` trains afresh at each origin; `write_backtest_plot`).
The M3 benchmark: `load_m3`, `M3Series`, `M3Settings`, `m3_lstm_forecast`, `m3_scores`,
`evaluate_m3_protocol` (the evaluator of the ``m3`` benchmark protocol). Volatility (docs/finance.md):
`index_returns`, `log_returns`, `year_origins`, `lstm_rolling` (`volatility_config`) against `garch_rolling`,
one-step `Predictive` distributions scored by `volatility_scores` and compared by `diebold_mariano`.
See docs/forecast.md.
"""

from ...data import Scaler as Scaler
from ...data import Windows as Windows
from ...data import future_stamps as future_stamps  # moved to recurrax.data, re-exported
from ...data import make_windows as make_windows
from ...data import read_frame as read_frame
from ...data import write_frame as write_frame
from ...models import head_loss as head_loss  # moved to recurrax.models, re-exported
from ...models import head_quantiles as head_quantiles
from ._auto import fit_auto as fit_auto
from ._backtest import backtest as backtest
from ._backtest import point_scores as point_scores
from ._baselines import BASELINES as BASELINES
from ._baselines import deseasonalize as deseasonalize
from ._baselines import forecast_baseline as forecast_baseline
from ._baselines import is_seasonal as is_seasonal
from ._baselines import seasonal_indices as seasonal_indices
from ._config import CANDIDATES as CANDIDATES
from ._config import DataConfig as DataConfig
from ._config import ForecastConfig as ForecastConfig
from ._config import ForecastTrainConfig as ForecastTrainConfig
from ._config import ModelConfig as ModelConfig
from ._covariate_scaling import CovariateScaler as CovariateScaler
from ._covariates import CALENDAR as CALENDAR
from ._covariates import calendar_features as calendar_features
from ._covariates import covariate_names as covariate_names
from ._covariates import future_covariates as future_covariates
from ._data import SeriesSet as SeriesSet
from ._data import fill_missing as fill_missing
from ._derive import derive_input_size as derive_input_size
from ._derive import derive_steps as derive_steps
from ._derive import resolve_config as resolve_config
from ._ensemble import ForecastEnsemble as ForecastEnsemble
from ._frames import forecast_frame as forecast_frame
from ._frames import read_series as read_series
from ._garch import garch_rolling as garch_rolling
from ._garch import index_returns as index_returns
from ._holdout import backtest_run as backtest_run
from ._holdout import backtest_table as backtest_table
from ._holdout import evaluate_forecast as evaluate_forecast
from ._holdout import fit_holdout as fit_holdout
from ._holdout import holdout_forecast as holdout_forecast
from ._holdout import load_series as load_series
from ._holdout import predict_series as predict_series
from ._inference import forecast_outputs as forecast_outputs
from ._m3 import FREQUENCIES as FREQUENCIES
from ._m3 import PUBLISHED as M3_PUBLISHED
from ._m3 import M3Series as M3Series
from ._m3 import M3Settings as M3Settings
from ._m3 import evaluate_protocol as evaluate_m3_protocol
from ._m3 import load_m3 as load_m3
from ._m3 import lstm_forecast as m3_lstm_forecast
from ._m3 import m3_scores as m3_scores
from ._model import Forecaster as Forecaster
from ._plot import write_backtest_plot as write_backtest_plot
from ._plot import write_forecast_plot as write_forecast_plot
from ._predict import Forecast as Forecast
from ._predict import predict as predict
from ._refit import backtest_refit as backtest_refit
from ._report import write_forecast_report as write_forecast_report
from ._retrain import challenge_forecast as challenge_forecast
from ._retrain import warm_fit_forecast as warm_fit_forecast
from ._run import ForecastRun as ForecastRun
from ._run import build_model as build_model
from ._run import fit_forecast as fit_forecast
from ._run import forecast_loss as forecast_loss
from ._run import load_forecast as load_forecast
from ._sampling import sample_paths as sample_paths
from ._select import Selection as Selection
from ._select import catch_implausible as catch_implausible
from ._select import combination_weights as combination_weights
from ._seq2seq import Seq2SeqForecaster as Seq2SeqForecaster
from ._task import forecast_inference as forecast_inference
from ._volatility import Predictive as Predictive
from ._volatility import diebold_mariano as diebold_mariano
from ._volatility import log_returns as log_returns
from ._volatility import lstm_rolling as lstm_rolling
from ._volatility import volatility_config as volatility_config
from ._volatility import volatility_scores as volatility_scores
from ._volatility import year_origins as year_origins
