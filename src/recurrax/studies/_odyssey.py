"""The LSTM variant study of Greff et al. 2017, "LSTM: A Search Space Odyssey", at a chosen budget.

Variants (registry names of `recurrax.cells.CELLS`, all relative to the paper's vanilla LSTM with peepholes):
``vanilla`` (V), ``nig``, ``nfg``, ``nog``, ``niaf``, ``noaf``, ``np``, ``cifg``, ``fgr``.

Protocol, per task and variant:

1. **Random search** (Optuna's `RandomSampler`) over the paper's space, trained by `train_trials` in groups of
   ``group`` trials at once and scored on the **valid** split (the best valid metric over the run's
   evaluations: early stopping). Each (task, variant) is one Optuna study ``odyssey-<task>-<variant>`` in
   ``storage`` (SQLite by default): several machines running the same command on one database share the
   studies (``load_if_exists``; the sampler's seed is offset by the trials already there).
   Every variant's study starts its sampler from the same seed, so with one machine the variants are
   searched over the same configurations (a paired design: they differ by cell and initialisation only).
2. **Test, once per variant**: the variant's best trial on valid (over every complete trial in the storage)
   is re-trained with ``seeds`` fresh seeds and each seed's best-valid parameters are scored on **test**.
   Only these configurations (tasks x variants) see the test split.

The paper's space and its mapping to Adam (`Space`): learning rate log-uniform (the paper's 1e-6..1e-2 for
SGD, narrowed to 1e-4..1e-1 for Adam, whose steps do not scale with the gradient), hidden units
log-uniform 20..200, momentum ``1 - log-uniform(0.01, 1)`` as Adam's ``beta1`` (the first-moment decay is
Adam's momentum; the search parameter is ``1 - beta1``, log-uniform), Gaussian input noise ``σ ~ U(0, 1)``.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

from .._extras import require
from ._odyssey_tasks import TASKS, build_task
from ._odyssey_train import Schedule, Trial, train_trials

VARIANTS = ("vanilla", "nig", "nfg", "nog", "niaf", "noaf", "np", "cifg", "fgr")
LABELS = {v: ("V" if v == "vanilla" else v.upper()) for v in VARIANTS}
PARAMS = ("lr", "hidden", "one_minus_beta1", "noise")


@dataclass(frozen=True)
class Space:
    """The search ranges: ``lr`` and ``one_minus_beta1`` log-uniform, ``hidden`` log-uniform integers,
    ``noise`` uniform."""

    lr: tuple[float, float] = (1e-4, 1e-1)
    hidden: tuple[int, int] = (20, 200)
    one_minus_beta1: tuple[float, float] = (0.01, 1.0)
    noise: tuple[float, float] = (0.0, 1.0)

    def distributions(self) -> dict:
        """Optuna distributions of the four searched parameters."""
        from optuna.distributions import FloatDistribution, IntDistribution

        return {
            "lr": FloatDistribution(*self.lr, log=True),
            "hidden": IntDistribution(*self.hidden, log=True),
            "one_minus_beta1": FloatDistribution(*self.one_minus_beta1, log=True),
            "noise": FloatDistribution(*self.noise),
        }


@dataclass(frozen=True)
class OdysseyConfig:
    """A study: tasks, variants, ``trials`` per (task, variant) run by this call, ``group`` trials trained
    at once, the training `Schedule`, ``seeds`` re-training seeds on test, the char LM's ``eval_chars``, the
    search `Space`, the sampler ``seed`` and the music ``split_seed``."""

    tasks: tuple[str, ...]
    trials: int
    group: int
    schedule: Schedule
    seeds: int
    eval_chars: int
    space: Space = field(default_factory=Space)
    variants: tuple[str, ...] = VARIANTS
    seed: int = 0
    split_seed: int = 0


BUDGETS = {
    "tiny": OdysseyConfig(("music", "charlm"), trials=2, group=2, schedule=Schedule(1, 2, 2, 8), seeds=2,
                          eval_chars=256, space=Space(hidden=(4, 8))),
    "small": OdysseyConfig(("music", "charlm"), trials=6, group=6, schedule=Schedule(3, 40, 16, 32), seeds=3,
                           eval_chars=8192, space=Space(hidden=(8, 64))),
    "medium": OdysseyConfig(("music", "charlm"), trials=24, group=8, schedule=Schedule(4, 100, 16, 48), seeds=3,
                            eval_chars=16384),
    "paper": OdysseyConfig(("music", "charlm"), trials=200, group=16, schedule=Schedule(30, 200, 16, 64),
                           seeds=5, eval_chars=55000),
}  # fmt: skip
"""``tiny`` is for tests; ``small`` runs in minutes on 2 CPU cores (hidden range scaled down to 8..64);
``medium`` uses the paper's ranges with 24 trials per variant; ``paper`` has the paper's 200 trials per
variant and dataset (Greff et al. ran 5400 networks, ~15 CPU-years), meant for many machines sharing one
``--storage``."""


def budget_config(name: str, **changes) -> OdysseyConfig:
    """The `OdysseyConfig` of budget ``name`` with ``changes`` (None values ignored); bad names raise."""
    if name not in BUDGETS:
        raise ValueError(f"unknown budget {name!r}; known: {', '.join(BUDGETS)}")
    cfg = replace(BUDGETS[name], **{k: v for k, v in changes.items() if v is not None})
    for task in cfg.tasks:
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; known tasks: {', '.join(TASKS)}")
    for variant in cfg.variants:
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    return cfg


def _trial(params: dict, seed: int) -> Trial:
    return Trial(int(params["hidden"]), float(params["lr"]), 1.0 - float(params["one_minus_beta1"]),
                 float(params["noise"]), seed)  # fmt: skip


def _open(optuna, storage: str, name: str, seed: int):
    study = optuna.create_study(study_name=name, storage=storage, direction="minimize", load_if_exists=True)
    study.sampler = optuna.samplers.RandomSampler(seed=seed * 1_000_003 + len(study.trials))
    return study


def run_odyssey(
    cfg: OdysseyConfig,
    storage: str,
    *,
    final: bool = True,
    rolls: dict | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Run ``cfg.trials`` new trials per (task, variant) into ``storage``, then (``final``) re-train each
    variant's best and score test. Returns every complete trial, the failures and the final rows."""
    optuna = require("optuna", "recurrax study odyssey")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    start = time.perf_counter()
    out = {"config": asdict(cfg), "storage": storage, "tasks": {}}
    for task_name in cfg.tasks:
        task = build_task(task_name, window=cfg.schedule.window, eval_chars=cfg.eval_chars,
                          split_seed=cfg.split_seed, rolls=rolls, log=log)  # fmt: skip
        result = {"metric": task.metric, "info": task.info, "variants": {}}
        for variant in cfg.variants:
            study = _open(optuna, storage, f"odyssey-{task_name}-{variant}", cfg.seed)
            asked = [study.ask(cfg.space.distributions()) for _ in range(cfg.trials)]
            asked.sort(key=lambda t: t.params["hidden"])  # groups of similar sizes pad little
            for k in range(0, len(asked), cfg.group):
                chunk = asked[k : k + cfg.group]
                seeds = [zlib.crc32(f"{task_name}/{variant}/{t.number}".encode()) % 2**31 for t in chunk]
                rows = train_trials(task, variant, [_trial(t.params, s) for t, s in zip(chunk, seeds)], cfg.schedule)
                for trial, seed, row in zip(chunk, seeds, rows):
                    trial.set_user_attr("seed", seed)
                    trial.set_user_attr("best_round", row["best_round"])
                    if row["valid"] == row["valid"]:
                        study.tell(trial, row["valid"])
                    else:
                        study.tell(trial, state=optuna.trial.TrialState.FAIL)
            result["variants"][variant] = _collect(optuna, study)
            done = result["variants"][variant]
            best = min((t["value"] for t in done["trials"]), default=float("nan"))
            log(f"[{time.perf_counter() - start:5.0f} s] {task_name} {LABELS[variant]:>4}: "
                f"{len(done['trials'])} trials ({done['failed']} failed), best valid {best:.4f}")  # fmt: skip
            if final and done["trials"]:
                best_trial = min(done["trials"], key=lambda t: t["value"])
                rows = train_trials(task, variant, [_trial(best_trial["params"], 10_000 + s)
                                                    for s in range(1, cfg.seeds + 1)], cfg.schedule, test=True)  # fmt: skip
                done["final"] = {"params": best_trial["params"], "number": best_trial["number"],
                                 "seeds": list(range(10_001, 10_001 + cfg.seeds)),
                                 "valid": [r["valid"] for r in rows], "test": [r["test"] for r in rows]}  # fmt: skip
                log(
                    f"[{time.perf_counter() - start:5.0f} s] {task_name} {LABELS[variant]:>4}: test "
                    + ", ".join(f"{v:.4f}" for v in done["final"]["test"])
                )
        out["tasks"][task_name] = result
    out["seconds"] = time.perf_counter() - start
    out["configs_on_test"] = sum(1 for r in out["tasks"].values() for v in r["variants"].values() if "final" in v)
    return out


def _collect(optuna, study) -> dict:
    """Every complete trial of ``study`` (``number``, ``params``, ``value``) and the count of failed ones."""
    states = optuna.trial.TrialState
    trials = [{"number": t.number, "params": t.params, "value": t.value}
              for t in study.get_trials(deepcopy=False, states=(states.COMPLETE,))]  # fmt: skip
    return {"trials": trials, "failed": len(study.get_trials(deepcopy=False, states=(states.FAIL,)))}
