"""`ForecastConfig`: the model, data, optimisation and training sections of a forecasting run."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Literal

from ...config import require
from ...models import POINT_LOSSES
from ...train import OptimConfig, TrainConfig
from ._covariates import CALENDAR, covariate_names
from ._select import COMBINATION_SIZE

CANDIDATES = ("lstm", "naive", "seasonal_naive", "theta", "ets")  # what model.kind = "auto" chooses among
FIXED = {"input_size": 24, "steps": 1000}  # the explicit kinds' defaults (auto derives them from the data)


@dataclass
class ModelConfig:
    """The forecaster.

    ``kind = "auto"`` (the default): `fit_auto` fits the direct LSTM and the baselines named in
    ``candidates``, scores each on the last ``horizon`` values of the training history and forecasts with
    the choice of ``select`` (`recurrax.tasks.forecast._auto`); `fit_forecast` alone trains auto's LSTM, the
    direct forecaster.

    Attributes:
        kind: ``"auto"``, ``"direct"`` or ``"recursive"`` (`Forecaster`) or ``"seq2seq"``
            (`Seq2SeqForecaster`), default ``"auto"``.
        attention: seq2seq only: attention over the encoder states, default False.
        cell: any registered cell (`recurrax.cells.CELLS`), default ``"lstm"``.
        hidden_size: hidden units per layer, default 64.
        num_layers: stacked recurrent layers, default 1.
        dropout: dropout rate between recurrent layers, in [0, 1), default 0.0.
        head: output head ``"point"``, ``"gaussian"``, ``"student_t"`` or ``"quantile"``, default ``"point"``.
        quantiles: levels of the ``"quantile"`` head, each in (0, 1), default ``(0.1, 0.5, 0.9)``.
        point_loss: loss of a point head, ``"mae"``, ``"mse"`` or ``"smape"`` (`recurrax.models.point_loss`),
            default ``"mae"``.
        ensemble: ``> 1`` trains that many models as one program (`ForecastEnsemble`, forecasts the median of
            the members); None: 1, and 3 for the LSTM of ``auto``; default None.
        candidates: what ``auto`` fits: ``"lstm"`` and any of ``"naive"``, ``"seasonal_naive"``, ``"theta"``,
            ``"ets"``; default all five.
        select: ``"combination"`` (the inverse-MASE weighted combination of the ``combination_size`` best
            candidates on validation among those within 1.5 times the best validation MASE: the best alone
            when it is that far ahead) or ``"best"`` (the best alone), default ``"combination"``.
        combination_size: at most this many candidates in the combination (None: every one within 1.5
            times the best), default 3.
    """

    kind: Literal["auto", "direct", "recursive", "seq2seq"] = "auto"
    attention: bool = False
    cell: str = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0
    head: Literal["point", "gaussian", "student_t", "quantile"] = "point"
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
    point_loss: Literal["mae", "mse", "smape"] = "mae"
    ensemble: int | None = None
    candidates: tuple[str, ...] = CANDIDATES
    select: Literal["combination", "best"] = "combination"
    combination_size: int | None = COMBINATION_SIZE

    def __post_init__(self):
        require(self.hidden_size >= 1, "hidden_size", f"must be >= 1, got {self.hidden_size}")
        require(self.num_layers >= 1, "num_layers", f"must be >= 1, got {self.num_layers}")
        require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")
        require(self.ensemble is None or self.ensemble >= 1, "ensemble", f"must be >= 1, got {self.ensemble}")
        unknown = [name for name in self.candidates if name not in CANDIDATES]
        require(not unknown and "lstm" in self.candidates, "candidates",
                f"must be lstm and any of {', '.join(CANDIDATES[1:])}, got {list(self.candidates)}")  # fmt: skip
        require(self.combination_size is None or self.combination_size >= 2, "combination_size",
                f"must be >= 2 (or None: no limit), got {self.combination_size}")  # fmt: skip
        require(all(0 < q < 1 for q in self.quantiles), "quantiles", f"must lie in (0, 1), got {self.quantiles}")
        require(
            self.point_loss in POINT_LOSSES, "point_loss", f"must be one of {POINT_LOSSES}, got {self.point_loss!r}"
        )


@dataclass
class DataConfig:
    """Windows and scaling.

    Attributes:
        input_size: history steps per window (shorter near a series' start); None: derived from the data for
            ``model.kind = "auto"`` (`derive_input_size`), 24 for the explicit kinds; default None.
        horizon: steps ahead, default 6.
        stride: origins every this many steps, default 1.
        min_input: at least this many history values per window, default 1.
        max_windows: only each series' last this many origins (N-BEATS' history limit); None: all; default
            None.
        period: the seasonal period (for MASE and the baselines), default 1.
        sampling: training batches draw ``"window"`` (every window equally likely: long series weigh more) or
            ``"series"`` (a series uniformly, then one of its windows: every series weighs the same, as sMAPE
            and MASE weigh them); default ``"window"``.
        scaler: ``"standard"``, ``"robust"``, ``"meanabs"``, ``"last"`` or ``"none"`` (`Scaler`), default
            ``"meanabs"``.
        scale_scope: ``"series"`` (statistics of each series' training history, `Scaler`) or ``"window"``
            (statistics of each window's own input, so series of any level and trend share one model);
            default ``"window"``.
        missing: ``"error"``, ``"ffill"`` or ``"interpolate"`` (see `fill_missing`), default ``"error"``.
        batch_size: windows per training batch, default 256.
        validate: hold out each series' last ``horizon`` values as the validation split (best checkpoint,
            early stopping); training windows then end before them; default False.
        path: a long frame (``.csv`` or ``.parquet``, columns ``unique_id``, ``ds``, ``y``) that `load_series`
            reads for ``recurrax forecast``, default None.
        freq: its pandas frequency (e.g. ``"MS"``), which puts each series on a regular grid and dates the
            forecasts (None: stamps as given, the frequency inferred for the forecasts); default None.
        calendar: calendar features from ``ds`` (``month``, ``quarter``, ``dayofweek``, ``dayofyear``,
            ``hour``, ``minute``; a sine and a cosine each), default ``()``.
        exogenous: known-future columns of the frame (needed for the forecast steps too), default ``()``.
        static: per-series columns, default ``()``.
        covariate_scaler: ``"standard"`` maps each exogenous and static column by its mean and standard
            deviation over the training history (`CovariateScaler`, stored in the run), ``"none"`` passes them
            as given; calendar features stay as they are; default ``"standard"``.

    Covariates (`recurrax.tasks.forecast._covariates`) go to the direct and seq2seq models only.
    """

    input_size: int | None = None
    horizon: int = 6
    stride: int = 1
    min_input: int = 1
    max_windows: int | None = None
    period: int = 1
    sampling: Literal["window", "series"] = "window"
    scaler: Literal["standard", "robust", "meanabs", "last", "none"] = "meanabs"
    scale_scope: Literal["series", "window"] = "window"
    missing: Literal["error", "ffill", "interpolate"] = "error"
    batch_size: int = 256
    validate: bool = False
    path: str | None = None
    freq: str | None = None
    calendar: tuple[str, ...] = ()
    exogenous: tuple[str, ...] = ()
    static: tuple[str, ...] = ()
    covariate_scaler: Literal["standard", "none"] = "standard"

    def __post_init__(self):
        require(self.input_size is None or self.input_size >= 1, "input_size", f"must be >= 1, got {self.input_size}")
        for name in ("horizon", "stride", "min_input", "period", "batch_size"):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        require(
            self.max_windows is None or self.max_windows >= 1, "max_windows", f"must be >= 1, got {self.max_windows}"
        )
        require(
            self.sampling in ("window", "series"), "sampling", f"must be 'window' or 'series', got {self.sampling!r}"
        )
        unknown = [name for name in self.calendar if name not in CALENDAR]
        require(not unknown, "calendar", f"unknown features {unknown}; expected some of {', '.join(CALENDAR)}")
        names = [*self.exogenous, *self.static]
        require(len(set(names)) == len(names), "exogenous", f"columns are named twice: {names}")
        require(not {"unique_id", "ds", "y"} & set(names), "exogenous", "unique_id, ds and y are not covariates")
        require(
            self.covariate_scaler in ("standard", "none"),
            "covariate_scaler",
            f"must be 'standard' or 'none', got {self.covariate_scaler!r}",
        )

    @property
    def covariate_names(self) -> list[str]:
        """The ``K`` covariate channels the models get (`covariate_names`)."""
        return covariate_names(self.calendar, self.exogenous, self.static)


@dataclass
class ForecastTrainConfig(TrainConfig):
    """`TrainConfig` whose ``steps`` may be None: derived from the number of training windows for
    ``model.kind = "auto"`` (`derive_steps`); 1000 for the explicit kinds."""

    steps: int | None = None

    def __post_init__(self):
        given = self.steps
        self.steps = 0 if given is None else given  # the shared checks, on a number
        super().__post_init__()
        self.steps = given


@dataclass
class ForecastConfig:
    """A forecasting run: ``model``, ``data``, ``optim`` and ``train`` sections (TOML tables). A plain
    `TrainConfig` given as ``train`` becomes the equal `ForecastTrainConfig`. With an explicit ``model.kind``
    the settings left None take their fixed defaults here (``data.input_size`` 24, ``train.steps`` 1000,
    ``model.ensemble`` 1, as before ``auto``); with ``auto`` they stay None until `resolve_config` derives
    them from the data."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: ForecastTrainConfig = field(default_factory=ForecastTrainConfig)

    def __post_init__(self):
        if type(self.train) is TrainConfig:
            self.train = ForecastTrainConfig(**{f.name: getattr(self.train, f.name) for f in fields(TrainConfig)})
        if self.model.kind == "auto":
            return  # None: derived from the data (`resolve_config`)
        if self.data.input_size is None:  # the explicit kinds keep their fixed defaults
            self.data = replace(self.data, input_size=FIXED["input_size"])
        if self.train.steps is None:
            self.train = replace(self.train, steps=FIXED["steps"])
        if self.model.ensemble is None:
            self.model = replace(self.model, ensemble=1)
