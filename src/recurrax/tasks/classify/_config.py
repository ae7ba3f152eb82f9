"""`ClassifyConfig`: the model, data, optimisation and training sections of a sequence-classification run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ...config import require
from ...train import OptimConfig, TrainConfig


@dataclass
class ModelConfig:
    """The `SequenceClassifier`: a recurrent stack pooled over time, then a linear layer over the classes.

    Attributes:
        cell: any registered cell (`recurrax.cells.CELLS`), default ``"lstm"``.
        hidden_size: hidden units per layer and direction, default 64.
        num_layers: stacked recurrent layers, default 1.
        bidirectional: forward and backward layers, default True.
        pooling: ``"last"``, ``"mean"`` or ``"attention"`` over the valid steps, default ``"last"``.
        attention_size: width of the attention pooling's MLP, default 32.
        dropout: dropout rate between layers and before the read-out, in [0, 1), default 0.0.
        ensemble: ``M > 1`` trains ``M`` such models as one program (`ClassifierEnsemble`: member ``m`` starts
            and draws its batches as a single run with ``train.seed + m``) and averages their probabilities;
            default 1.
        conv_channels: e.g. ``[128, 256, 128]`` adds a temporal convolution branch beside the recurrent one
            (LSTM-FCN, Karim et al. 2017): ``len(conv_channels)`` masked "same" convolutions with ReLU,
            averaged over the valid steps and concatenated with the pooled recurrent features; default ``()``.
        conv_kernels: one convolution width per ``conv_channels`` entry, default ``(8, 5, 3)``.
        input_norm: ``"series"`` z-normalises every sequence on its own (each feature over its valid steps)
            inside the model, before both branches; ``"none"`` leaves the dataset standardisation
            (``data.normalize``) alone; default ``"none"``.
        conv_norm: ``"layer"`` or ``"instance"`` normalises every convolution's output with the statistics of
            each sequence alone (all channels, or each channel, over the valid steps; learnt scale and shift)
            before its ReLU, in place of LSTM-FCN's batch normalisation; ``"none"``: off; default ``"none"``.
        rnn_stride: the recurrent stack reads every ``rnn_stride``-th step while the convolution branch reads
            every step, default 1.
    """

    cell: str = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    bidirectional: bool = True
    pooling: Literal["last", "mean", "attention"] = "last"
    attention_size: int = 32
    dropout: float = 0.0
    ensemble: int = 1
    conv_channels: tuple[int, ...] = ()
    conv_kernels: tuple[int, ...] = (8, 5, 3)
    input_norm: Literal["none", "series"] = "none"
    conv_norm: Literal["none", "layer", "instance"] = "none"
    rnn_stride: int = 1

    def __post_init__(self):
        for name in ("hidden_size", "num_layers", "attention_size", "ensemble", "rnn_stride"):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        require(all(c >= 1 for c in self.conv_channels), "conv_channels", f"must be >= 1, got {self.conv_channels}")
        require(all(k >= 1 for k in self.conv_kernels), "conv_kernels", f"must be >= 1, got {self.conv_kernels}")
        require(
            not self.conv_channels or len(self.conv_kernels) == len(self.conv_channels),
            "conv_kernels", f"needs one width per conv_channels entry, got {self.conv_kernels} for {self.conv_channels}",
        )  # fmt: skip
        require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")


@dataclass
class DataConfig:
    """The sequences and their batches.

    Attributes:
        dataset: a registered ``.ts`` dataset (``japanesevowels``, ``basicmotions``, ``gunpoint``,
            ``italypowerdemand``; official train/test splits), default ``"japanesevowels"``.
        path: a local training file used instead of ``dataset`` when set: ``.ts``, ``.npz`` (arrays ``xs``
            ``[N, T, D]``, ``labels`` ``[N]``, optional ``lengths`` ``[N]``) or ``.csv`` (one univariate series
            per row, the label first, empty cells after a shorter series' end); default None.
        test_path: the matching local test file, default None.
        valid_fraction: share of the training cases (a seeded, class-stratified draw) that validate (best
            checkpoint, early stopping); 0 trains on every training case for ``train.steps`` and keeps the
            final model (no validation split); default 0.0. The test split is only used for the final metrics.
        batch_size: sequences per training batch, default 32.
        eval_batch_size: sequences per evaluation batch, default 256.
        normalize: standardise every feature with the mean and standard deviation of the training cases'
            valid steps; missing values (NaN) become 0 after it; default True.
        class_weights: ``"balanced"`` weighs class ``k`` by ``N / (K * N_k)`` in the loss (as scikit-learn),
            default ``"none"``.
        stride: keep every ``stride``-th step (from step 0) of every sequence, before anything else, so the
            network sees sequences ``stride`` times shorter (1: all steps); default 1.
        max_steps: when the longest training sequence (after ``stride``) has more steps, the stride is raised
            to the smallest one that brings it to at most ``max_steps`` (a derived default, written into the
            run's resolved ``stride``; None: off). Long series cost the recurrent scan time, not information
            the classifier needs at full resolution (e.g. ACSF1, 1460 steps -> stride 6). With a convolution
            branch the derived stride becomes ``model.rnn_stride`` instead (the convolutions keep every step;
            `recurrax.tasks.classify.resolve`); default 256.
        augment_crop: random crop of each training batch to this fraction of the steps (1: off), default 1.0.
        augment_warp: time warping, speeds ``exp(augment_warp * z)`` (0: off), default 0.0.
        augment_scale: multiply each sequence's feature by ``1 + augment_scale * z`` (0: off), default 0.0.
        augment_noise: add ``augment_noise * z`` to every valid value (0: off), default 0.0. See `Augmentation`.
    """

    dataset: str = "japanesevowels"
    path: str | None = None
    test_path: str | None = None
    valid_fraction: float = 0.0
    batch_size: int = 32
    eval_batch_size: int = 256
    normalize: bool = True
    class_weights: Literal["none", "balanced"] = "none"
    stride: int = 1
    max_steps: int | None = 256
    augment_crop: float = 1.0
    augment_warp: float = 0.0
    augment_scale: float = 0.0
    augment_noise: float = 0.0

    def __post_init__(self):
        require(self.max_steps is None or self.max_steps >= 1, "max_steps", f"must be >= 1, got {self.max_steps}")
        for name in ("batch_size", "eval_batch_size", "stride"):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        require(0 < self.augment_crop <= 1, "augment_crop", f"must be in (0, 1] (1: off), got {self.augment_crop}")
        for name in ("augment_warp", "augment_scale", "augment_noise"):
            require(getattr(self, name) >= 0, name, f"must be >= 0 (0: off), got {getattr(self, name)}")
        require(
            0 <= self.valid_fraction < 1,
            "valid_fraction", f"must be in [0, 1) (0: no validation split), got {self.valid_fraction}",
        )  # fmt: skip


_FCN = {"conv_channels": [64, 64, 64], "conv_kernels": [8, 5, 3]}

# The settings that ``select.candidates`` may name: each a partial config (sections -> keys -> values) laid
# over the run's own config; "base" is the config as given. The default pair ("lstm", "lstm-fcn-norm") was
# chosen by cross-validation on the training cases of the development suite (docs/classify_seq2seq.md):
# neither wins on every set (the plain LSTM on JapaneseVowels and GunPoint; the normalised convolution branch,
# reading every step of long series, on BasicMotions and ACSF1), so the training cases decide.
CANDIDATES: dict[str, dict[str, dict]] = {
    "base": {},
    # the recurrent model alone, on the dataset-standardised features
    "lstm": {"model": {"input_norm": "none", "conv_channels": [], "pooling": "last", "dropout": 0.0}},
    # LSTM-FCN (Karim et al. 2017) on per-series z-normalised input, mean pooling, dropout 0.3
    "lstm-fcn-series": {"model": {"input_norm": "series", **_FCN, "pooling": "mean", "dropout": 0.3}},
    # the single levers, for users' own candidate lists
    "lstm-series": {"model": {"input_norm": "series", "conv_channels": []}},
    "lstm-fcn": {"model": {"input_norm": "none", **_FCN}},
    # LSTM-FCN on the dataset-standardised features, each convolution layer-normalised per sequence
    "lstm-fcn-norm": {"model": {"input_norm": "none", **_FCN, "conv_norm": "layer", "pooling": "last", "dropout": 0.0}},
}


@dataclass
class SelectConfig:
    """Choosing the setting inside `fit_classifier` by cross-validation on the training cases.

    With ``mode = "cv"`` and fewer than ``max_cases`` training cases, every setting named in ``candidates``
    (keys of `CANDIDATES`, each laid over this config) is trained on ``folds - 1`` folds and scored on the
    held-out fold of a stratified ``folds``-fold split of the training cases (seeded by ``train.seed``);
    the highest mean accuracy wins (ties: the lower mean loss, then the first listed), and the winner is
    trained on every training case, as an ensemble of ``members`` models (each candidate is cross-validated
    as one model, ``model.ensemble = 1``, for ``steps`` steps). The test split is never read for it.
    ``mode = "off"``, one candidate, or ``max_cases`` or more cases: the config is trained as given. The run's
    ``config.toml`` and checkpoints hold the winner (with ``mode = "off"``) and ``selection.json`` the scores.
    Cost: ``folds * len(candidates)`` extra fits of ``steps`` steps.

    Attributes:
        mode: ``"cv"`` (cross-validate the candidates) or ``"off"`` (train the config as given), default
            ``"cv"``.
        candidates: keys of `CANDIDATES` to choose among, default ``("lstm", "lstm-fcn-norm")``.
        folds: folds of the stratified split, >= 2, default 3.
        max_cases: with this many training cases or more the selection is skipped, default 1000.
        members: the winner's ``model.ensemble``: on the development suite ensembles of three scored as high as
            or higher than one model in cross-validation on every set for the candidate that wins, at 2-3x the
            final fit's time (docs/classify_seq2seq.md); None keeps ``model.ensemble``; default 3.
        steps: the candidates' cross-validation fits train this many steps, or ``train.steps`` where that is fewer
            (the learning-rate schedule spans them), the winner ``train.steps``; None: ``train.steps`` for both;
            default 300. On the development suite's training cases (seeds 0-2, the folds ``fit`` uses) the pick at
            300 steps was the pick at 1000 in 15 of 18 cases, the other three near-ties either way
            (docs/classify_seq2seq.md, round 5), and the candidates' fits cost 3.3x less.
    """

    mode: Literal["cv", "off"] = "cv"
    candidates: tuple[str, ...] = ("lstm", "lstm-fcn-norm")
    folds: int = 3
    max_cases: int = 1000
    members: int | None = 3
    steps: int | None = 300

    def __post_init__(self):
        require(self.folds >= 2, "folds", f"must be >= 2, got {self.folds}")
        require(self.steps is None or self.steps >= 1, "steps", f"must be >= 1 or None, got {self.steps}")
        require(self.members is None or self.members >= 1, "members", f"must be >= 1 or None, got {self.members}")
        require(self.max_cases >= 1, "max_cases", f"must be >= 1, got {self.max_cases}")
        unknown = [name for name in self.candidates if name not in CANDIDATES]
        require(not unknown, "candidates", f"unknown {unknown}; known: {list(CANDIDATES)}")
        require(bool(self.candidates), "candidates", "must name at least one setting")


@dataclass
class ClassifyConfig:
    """A classification run: ``model``, ``data``, ``optim``, ``train`` and ``select`` sections (TOML tables).

    The defaults were chosen by cross-validation on the training cases of the development suite
    (JapaneseVowels, BasicMotions, ItalyPowerDemand, GunPoint, ACSF1, PickupGestureWiimoteZ;
    docs/classify_seq2seq.md): every training case trains (``data.valid_fraction = 0``, no validation draw
    from sets of 40-270 cases) for 1000 Adam steps (lr 2e-3 after 50 warm-up steps, cosine decay to 0; the
    better candidate's CV accuracy moved by +7.1, +2.5, +2.0, 0, -0.1 and -1.5 points on the six sets against
    300 steps at a constant rate), and ``select`` picks between the plain bidirectional LSTM and LSTM-FCN with
    layer-normalised convolutions that read every step (``"lstm-fcn-norm"``), cross-validating each for 300
    steps (``select.steps``)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(schedule="warmup_cosine", warmup_steps=50))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=1000, eval_every=50, checkpoint_every=0))
    select: SelectConfig = field(default_factory=SelectConfig)
