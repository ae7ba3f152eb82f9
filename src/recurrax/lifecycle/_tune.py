"""`tune`: hyperparameter search with Optuna over any config key of a task that declares ``fit``.

Each trial is an ordinary training run: the base config with the trial's values (`apply_params`) trained by
the task's own fit function into ``<study_dir>/trial_<number>/`` (``config.toml``, ``metrics.jsonl``,
checkpoints, report). The objective is the best value of the validation ``metric`` over the run's
evaluations (``loss`` by default: minimised; ``accuracy`` and ``macro_f1`` are maximised unless
``direction`` says otherwise). After every evaluation the trial reports the metric (``trial.report``) and
asks the pruner (except at the last step: a finished run is complete); a pruned trial stops training there
(`fit`'s ``on_eval``, set through `recurrax.train.evaluation_hook`) and ends as ``PRUNED`` (Optuna's
median rule by default: stop a trial whose intermediate value is worse than the median of the completed
trials at the same step, Golovin et al. 2017).

The study lives in ``sqlite:///<study_dir>/study.db`` unless ``storage`` names another database (e.g.
``postgresql://...``): runs with the same ``study_name`` and storage share one study (``load_if_exists``),
so several machines can work on it at once and a second call continues it (trial numbers go on counting).

Results (`write_results`): ``trials.csv`` (number, state, value, the searched keys, the run directory),
``best.toml`` (the base config with the best trial's values, loadable by ``--config``),
``history.png`` (optimisation history) and ``importances.png`` (parameter importances by Optuna's default
PED-ANOVA evaluator, Watanabe et al. 2023, which needs no scikit-learn; skipped with a note while fewer than
two trials are complete or when the evaluator warns that it cannot tell the keys apart).
"""

from __future__ import annotations

import math
import tomllib
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..config import ConfigError, parse_override, set_path, from_dict, to_toml
from .._extras import require
from ..tasks import TaskSpec, get_task
from ..train import NonFiniteError, evaluation_hook
from ._search_space import Param, apply_params, check_space, parse_space

if TYPE_CHECKING:  # optuna and pandas load when a study runs, not with the package
    import optuna
    import pandas as pd

MAXIMIZED = ("accuracy", "macro_f1")
TUNE_KEYS = ("params", "metric", "direction")


@dataclass
class TuneResult:
    """What `tune` returns: the optuna ``study``, its ``table`` (one row per trial), ``best_config`` (None
    while no trial is complete), the files written and ``notes`` on what was skipped."""

    study: optuna.Study
    study_dir: Path
    table: pd.DataFrame
    best_config: Any | None
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def tune_task(name: str) -> TaskSpec:
    """The `recurrax.tasks.TaskSpec` of task ``name``, which must declare how to ``fit`` a trial."""
    return get_task(name, having="fit", purpose="tune")


def load_tune_config(
    config_type: type, path: str | Path | None, overrides: Iterable[str] = ()
) -> tuple[Any, dict[str, Any]]:
    """The base config (defaults <- TOML file <- ``overrides``, as `recurrax.config.load_config`) and the
    file's ``[tune]`` table: ``params`` (``{"model.hidden_size" = "int:32:256:log", ...}``), ``metric``,
    ``direction``. The table is checked here; its params are parsed by `parse_space`."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: invalid TOML: {error}") from None
    section = data.pop("tune", {})
    if not isinstance(section, dict):
        raise ConfigError("tune: expected a section of keys")
    unknown = sorted(set(section) - set(TUNE_KEYS))
    if unknown:
        raise ConfigError(f"unknown key 'tune.{unknown[0]}' (known: {', '.join(TUNE_KEYS)})")
    params = section.get("params", {})
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        raise ConfigError('tune.params: expected a table of "section.key" = "spec" strings')
    for item in overrides:
        keys, value = parse_override(config_type, item)
        set_path(data, keys, value)
    return from_dict(config_type, data), section


def resolve_direction(metric: str, direction: str | None) -> Literal["minimize", "maximize"]:
    """``direction`` when given (``minimize`` or ``maximize``), else ``maximize`` for accuracy-like metrics."""
    if direction is None:
        return "maximize" if metric in MAXIMIZED else "minimize"
    if direction not in ("minimize", "maximize"):
        raise ValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
    return direction


def tune(
    task: str | TaskSpec,
    base: Any,
    space: Iterable[str | Param],
    *,
    study_dir: str | Path,
    trials: int | None = 20,
    study_name: str | None = None,
    storage: str | None = None,
    timeout: float | None = None,
    metric: str = "loss",
    direction: str | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
    seed: int | None = None,
    data_dir: str | Path | None = None,
    progress: bool = False,
    callbacks: Iterable[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] = (),
) -> TuneResult:
    """Run ``trials`` new trials (or until ``timeout`` seconds) of the study and write its results.

    ``base``: the task's config that trials start from; ``space``: `Param` objects or ``key=spec`` strings
    (`parse_space`); ``study_name`` defaults to the task's name; ``storage`` to SQLite in ``study_dir``;
    ``pruner`` to ``optuna.pruners.MedianPruner()`` (pass ``optuna.pruners.NopPruner()`` to turn pruning
    off); ``seed`` seeds the TPE sampler (offset by the trials already in the study, so a resumed study does
    not repeat its start). A trial whose config is refused or whose training diverges (`NonFiniteError`) is
    recorded as ``FAIL`` and the study goes on; other errors stop it. ``callbacks`` run after every trial.
    """
    optuna = require("optuna", "hyperparameter search")

    task = tune_task(task) if isinstance(task, str) else task
    if not isinstance(base, task.config_type):
        raise TypeError(f"base must be a {task.config_type.__name__}, got {type(base).__name__}")
    params = parse_space(space, task.config_type)
    if not params:
        raise ValueError("the search space is empty: give at least one --param section.key=spec")
    check_space(params, base)
    task.check_tune(base)
    direction = resolve_direction(metric, direction)
    study_dir = Path(study_dir)
    study_dir.mkdir(parents=True, exist_ok=True)
    study = _open_study(task.name, study_name or task.name, storage or _sqlite(study_dir), direction, metric)
    study.pruner = optuna.pruners.MedianPruner() if pruner is None else pruner
    study.sampler = optuna.samplers.TPESampler(seed=None if seed is None else seed + len(study.trials))

    def objective(trial: optuna.Trial) -> float:
        cfg = apply_params(base, {p.key: p.suggest(trial) for p in params})
        run_dir = study_dir / f"trial_{trial.number:04d}"
        trial.set_user_attr("run_dir", str(run_dir))
        pruned_at: list[int] = []

        def on_eval(step: int, scores: dict[str, float]) -> bool:
            trial.report(_metric(scores, metric), step)
            if step < cfg.train.steps and trial.should_prune():  # a finished run completes, whatever its value
                pruned_at.append(step)
            return bool(pruned_at)

        with evaluation_hook(on_eval):
            rows = task.fit(cfg, run_dir, None if data_dir is None else Path(data_dir), progress)
        if pruned_at:
            raise optuna.TrialPruned(f"pruned at step {pruned_at[0]}")
        values = [_metric(row, metric) for row in rows if row.get("split") == "valid"]
        if not values:
            raise ValueError(f"trial {trial.number} wrote no validation rows; the task needs a validation split")
        return min(values) if direction == "minimize" else max(values)

    study.optimize(
        objective, n_trials=trials, timeout=timeout, catch=(ConfigError, NonFiniteError), callbacks=list(callbacks)
    )
    return write_results(study, study_dir, base)


def write_results(study: optuna.Study, study_dir: str | Path, base: Any) -> TuneResult:
    """Write ``trials.csv``, ``best.toml`` (when a trial is complete) and the plots of ``study`` into
    ``study_dir``; ``base`` is the config the trials' values are applied to."""
    import optuna

    study_dir = Path(study_dir)
    table = trials_table(study)
    files = [study_dir / "trials.csv"]
    table.to_csv(files[0], index=False)
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    best_config, notes = None, []
    if complete:
        best_config = apply_params(base, study.best_params)
        files.append(study_dir / "best.toml")
        files[-1].write_text(to_toml(best_config))
    for name, plot, needed in (("history", _plot_history, 1), ("importances", _plot_importances, 2)):
        if len(complete) < needed:
            notes.append(f"{name}.png skipped: it needs {needed} complete trial(s), the study has {len(complete)}")
            continue
        try:
            plot(study, study_dir / f"{name}.png")
            files.append(study_dir / f"{name}.png")
        except (ValueError, RuntimeError, Warning) as error:  # e.g. too few distinct trials for importances
            notes.append(f"{name}.png skipped: {error}")
    return TuneResult(study, study_dir, table, best_config, files, notes)


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: ``number``, ``state``, ``value`` (the last reported value for a pruned trial),
    ``steps`` (the last reported step), ``seconds``, one column per searched key and ``run_dir``."""
    import pandas as pd

    rows = []
    for trial in study.get_trials(deepcopy=False):
        value = trial.value
        if value is None and trial.intermediate_values:
            value = trial.intermediate_values[max(trial.intermediate_values)]
        duration = trial.duration.total_seconds() if trial.duration is not None else math.nan
        rows.append({
            "number": trial.number,
            "state": trial.state.name,
            "value": math.nan if value is None else value,
            "steps": max(trial.intermediate_values, default=None),
            "seconds": duration,
            **trial.params,
            "run_dir": trial.user_attrs.get("run_dir", ""),
        })  # fmt: skip
    return pd.DataFrame(rows)


def _open_study(task: str, name: str, storage: str, direction: str, metric: str) -> optuna.Study:
    """Create the study, or load it and check that it tunes the same task and metric in the same direction."""
    import optuna

    study = optuna.create_study(storage=storage, study_name=name, direction=direction, load_if_exists=True)
    expected = {"task": task, "metric": metric, "direction": direction}
    if not study.user_attrs:
        for key, value in expected.items():
            study.set_user_attr(key, value)
    found = {key: study.user_attrs.get(key) for key in expected}
    if found != expected:
        raise ValueError(f"study {name!r} in {storage} tunes {found}, not {expected}; use another study name")
    return study


def _sqlite(study_dir: Path) -> str:
    return f"sqlite:///{study_dir.resolve() / 'study.db'}"


def _metric(scores: dict[str, Any], metric: str) -> float:
    if metric not in scores:
        known = sorted(k for k in scores if k not in ("step", "split", "time"))
        raise ValueError(f"the task reports no validation metric {metric!r} (it reports {', '.join(known)})")
    return float(scores[metric])


def _target(study: optuna.Study) -> str:
    return f"validation {study.user_attrs.get('metric', 'objective')}"


def _save_axes(axes: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    figure = axes.figure
    figure.set_size_inches(8, 4)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)


def _plot_history(study: optuna.Study, path: Path) -> None:
    """Objective value of every trial and the best so far, against the trial number."""
    import matplotlib
    from optuna.exceptions import ExperimentalWarning
    from optuna.visualization.matplotlib import plot_optimization_history

    with matplotlib.rc_context(), warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        _save_axes(plot_optimization_history(study, target_name=_target(study)), path)


def _plot_importances(study: optuna.Study, path: Path) -> None:
    """Importance of each searched key for the objective (Optuna's default evaluator, PED-ANOVA); a warning
    of the evaluator (e.g. too few trials to tell the keys apart) is raised as an error."""
    import matplotlib
    from optuna.exceptions import ExperimentalWarning
    from optuna.visualization.matplotlib import plot_param_importances

    with matplotlib.rc_context(), warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ExperimentalWarning)
        _save_axes(plot_param_importances(study, target_name=_target(study)), path)
