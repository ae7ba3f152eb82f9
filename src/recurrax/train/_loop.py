"""`fit`: the training loop — logging, evaluation, best and periodic checkpoints, early stopping, resume."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import equinox as eqx
import jax

from ._checkpoint import (
    BEST_DIR,
    CHECKPOINTS_DIR,
    load_checkpoint,
    load_train_state,
    prune_checkpoints,
    read_meta,
    remove_leftovers,
    save_checkpoint,
    step_checkpoints,
)
from ._config import OptimConfig, TrainConfig
from ._metrics import MetricsLog
from ._optim import Plateau, scale_learning_rate
from ._progress import ProgressBar
from ._sharding import make_placement, process_run_dir
from ._step import shared_train_step

RESERVED_META = ("format_version", "step", "metrics", "fit")
EvalHook = Callable[[int, dict[str, float]], bool]
_EVAL_HOOK: ContextVar[EvalHook | None] = ContextVar("recurrax_eval_hook", default=None)


@contextlib.contextmanager
def evaluation_hook(hook: EvalHook) -> Iterator[None]:
    """Within the block, every `fit` without its own ``on_eval`` calls ``hook(step, scores)`` after each
    evaluation (e.g. a task's ``fit_lm`` that does not pass ``on_eval`` on); True stops the run there."""
    token = _EVAL_HOOK.set(hook)
    try:
        yield
    finally:
        _EVAL_HOOK.reset(token)


class NonFiniteError(ValueError):
    """A NaN or inf loss or gradient stopped training (``train.nonfinite = "stop"``).

    The update of that step was not applied. Attributes: ``step`` (1-based), ``loss``, ``checkpoint`` (the
    last good checkpoint directory, or None) and ``model`` (the parameters before the failed step).
    """

    def __init__(self, step: int, loss: float, checkpoint: Path | None, model: Any):
        self.step, self.loss, self.checkpoint, self.model = step, loss, checkpoint, model
        where = f"last good checkpoint: {checkpoint}" if checkpoint else "no checkpoint was written before it"
        super().__init__(
            f"non-finite loss or gradient at step {step} (loss {loss}); the update was not applied and training "
            f"stopped; {where}. Lower optim.lr, set optim.clip_norm, or set train.nonfinite = \"skip\""
        )


@dataclass
class FitResult:
    """What `fit` returns. ``history`` holds the rows of ``metrics.jsonl`` (the whole run, after a resume);
    ``compilations`` counts compilations of the train step during this call (1 at most, 0 when it was
    already compiled in this process)."""

    model: Any
    best_model: Any | None
    step: int
    history: list[dict[str, Any]]
    run_dir: Path
    stopped_early: bool = False
    skipped_steps: int = 0
    compilations: int = 0


@dataclass
class _LoopState:
    """What a checkpoint must hold besides arrays to continue exactly (saved as ``meta["fit"]``)."""

    best_loss: float | None = None
    best_step: int | None = None
    evals_since_best: int = 0
    plateau: dict[str, Any] = field(default_factory=lambda: {"best": None, "bad": 0})
    skipped_steps: int = 0
    elapsed: float = 0.0


def fit(
    model: Any,
    loss_fn: Callable,
    get_batch: Callable[[int], Any],
    *,
    optim: OptimConfig,
    train: TrainConfig,
    run_dir: str | Path,
    evaluate: Callable[[Any], dict[str, float]] | None = None,
    init_carry: Callable[[], Any] | None = None,
    tokens_per_batch: int | None = None,
    meta: dict | None = None,
    resume: bool = False,
    progress: bool = True,
    on_eval: EvalHook | None = None,
) -> FitResult:
    """Train ``model`` for ``train.steps`` updates; write ``metrics.jsonl`` and checkpoints under ``run_dir``.

    - ``loss_fn(model, batch, carry, key) -> (loss, (new_carry, aux))``: a scalar loss, the carry for the next
      batch (truncated BPTT; ``stop_gradient`` is applied) and a dict of scalars logged with each row.
      Resetting the carry at document boundaries is the loss function's job (the batch carries the flags).
    - ``get_batch(i)``: the batch of update ``i`` (0, 1, ...), a pytree of arrays, deterministic in ``i``.
      Update ``i`` uses the key ``fold_in(key(train.seed), i)`` and is logged and checkpointed as step
      ``i + 1``, so a resumed run repeats an uninterrupted one bit for bit on CPU.
    - ``evaluate(model) -> {"loss": ..., ...}``: run every ``train.eval_every`` steps and at the end; its
      ``loss`` picks the best checkpoint (``checkpoints/best``) and drives early stopping and the plateau
      schedule.
    - ``init_carry() -> carry``: the initial carry for stateful training (None: the carry is None).
    - ``tokens_per_batch``: for the ``tokens_per_s`` column and the progress bar.
    - ``meta``: JSON-able task metadata (config, vocabulary, data fingerprint) stored in every checkpoint's
      ``meta.json`` next to ``format_version``, ``step``, ``metrics`` and ``fit`` (the loop's state).
    - ``resume``: continue from the last complete checkpoint in ``run_dir/checkpoints`` (an error if there is
      none). Without it, a run directory that already holds checkpoints is an error.
    - ``on_eval(step, scores) -> stop``: called after each evaluation with its scores (the ``evaluate`` dict as
      floats); True stops the run as early stopping does (checkpointed, ``stopped_early``). Hyperparameter
      search prunes trials with it. None: the hook of an enclosing `evaluation_hook` block, if any.

    Each train row of ``metrics.jsonl`` (every ``train.log_every`` steps and at the end) holds ``step``,
    ``split`` ("train"), ``loss``, ``lr``, ``grad_norm`` (before clipping), ``update_norm``,
    ``grad_norm/<path>`` per recurrent weight (``weight_hh`` leaves), the ``aux`` entries, ``steps_per_s``,
    ``tokens_per_s`` (with ``tokens_per_batch``) and ``time`` (seconds of training, resumes included).
    Evaluation rows hold ``step``, ``split`` ("valid"), the ``evaluate`` dict and ``time``.

    A NaN or inf loss or gradient is never applied. It writes a row with ``"nonfinite": true``; then
    ``train.nonfinite = "stop"`` raises `NonFiniteError` (no checkpoint at or after that step is written),
    ``"skip"`` goes on with the parameters, optimiser state and carry of before the step.

    With ``train.devices`` above 1 the steps run on several devices (``train.parallel``,
    `recurrax.train.make_placement`); ``evaluate`` gets the model as it lies there (replicated, or split on
    the member axis) and may split its own batches with `recurrax.train.shard_batch`. In a multi-host run
    process ``i > 0`` writes under ``run_dir/process_<i>``.
    """
    run_dir = process_run_dir(Path(run_dir))
    root = run_dir / CHECKPOINTS_DIR
    meta = dict(meta or {})
    reserved = sorted(set(meta) & set(RESERVED_META))
    if reserved:
        raise ValueError(f"meta may not use the keys {reserved}; fit writes them")
    if evaluate is None and (optim.schedule == "plateau" or train.early_stopping_patience):
        raise ValueError("optim.schedule = 'plateau' and train.early_stopping_patience need an evaluate function")
    on_eval = _EVAL_HOOK.get() if on_eval is None else on_eval
    step_fn = shared_train_step(loss_fn, optim, train.steps, make_placement(train.devices, train.parallel))
    opt_state = step_fn.optimizer.init(eqx.filter(model, eqx.is_inexact_array))
    carry = None if init_carry is None else init_carry()
    state, best_model, start, last_checkpoint, last_rows = _LoopState(), None, 0, None, {}

    remove_leftovers(root)
    checkpoints = step_checkpoints(root)
    if resume:
        if not checkpoints:
            raise ValueError(f"cannot resume: {root} holds no complete checkpoint")
        start, last_checkpoint = checkpoints[-1]
        model, saved = load_checkpoint(last_checkpoint, model)
        restored = load_train_state(last_checkpoint, {"opt_state": opt_state, "carry": carry})
        opt_state, carry = restored["opt_state"], restored["carry"]
        state, last_rows = _LoopState(**saved["fit"]), saved["metrics"]
        best_dir = root / BEST_DIR
        if state.best_step is not None and best_dir.is_dir() and read_meta(best_dir)["step"] == state.best_step:
            best_model, _ = load_checkpoint(best_dir, model)
    elif checkpoints:
        raise ValueError(
            f"{run_dir} already holds checkpoints ({checkpoints[-1][1].name}); pass resume=True to continue "
            "that run, or train into a new run directory"
        )

    plateau = Plateau(optim.plateau_patience, optim.plateau_factor, **_plateau_in(state.plateau))
    base_key = jax.random.key(train.seed)
    traces_before = step_fn.traces
    stopped_early, step = False, start
    window_steps, window_seconds = 0, 0.0
    clock = time.perf_counter()
    elapsed_before = state.elapsed

    def elapsed() -> float:
        return elapsed_before + time.perf_counter() - clock

    with (
        MetricsLog(run_dir, keep_until_step=start if resume else None, tensorboard=train.tensorboard) as log,
        ProgressBar(train.steps, start, enabled=progress) as bar,
    ):
        for index in range(start, train.steps):
            step = index + 1
            began = time.perf_counter()
            batch = get_batch(index)
            key = jax.random.fold_in(base_key, index)
            model, opt_state, carry, stats = step_fn(model, opt_state, carry, batch, key)
            finite = bool(stats["finite"])
            window_seconds += time.perf_counter() - began
            window_steps += 1
            row = None
            if not finite:
                log.write({**_train_row(step, stats, elapsed()), "nonfinite": True})
                if train.nonfinite == "stop":
                    raise NonFiniteError(step, float(stats["loss"]), last_checkpoint, model)
                state.skipped_steps += 1
            elif step % train.log_every == 0 or step == train.steps or _past(train.max_minutes, elapsed()):
                row = _train_row(step, stats, elapsed())
                row["steps_per_s"] = window_steps / window_seconds
                if tokens_per_batch is not None:
                    row["tokens_per_s"] = tokens_per_batch * row["steps_per_s"]
                log.write(row)
                last_rows["train"] = row
                window_steps, window_seconds = 0, 0.0
            bar.advance(step, row)
            out_of_time = _past(train.max_minutes, elapsed())
            last = step == train.steps or out_of_time

            if evaluate is not None and (last or (train.eval_every and step % train.eval_every == 0)):
                scores = _scores(evaluate(model))
                row = {"step": step, "split": "valid", **scores, "time": elapsed()}
                log.write(row)
                last_rows["valid"] = row
                bar.advance(step, row)
                loss = scores["loss"]
                if loss < (math.inf if state.best_loss is None else state.best_loss):
                    state.best_loss, state.best_step, state.evals_since_best = loss, step, 0
                    best_model = model
                    save_checkpoint(root / BEST_DIR, model, {**meta, "step": step, "metrics": {"valid": row}})
                else:
                    state.evals_since_best += 1
                if optim.schedule == "plateau" and plateau.observe(loss):
                    opt_state = scale_learning_rate(opt_state, optim.plateau_factor)
                patience = train.early_stopping_patience
                stopped_early = bool(patience) and state.evals_since_best >= patience
                if on_eval is not None and on_eval(step, scores):
                    stopped_early = True

            if stopped_early or last or (train.checkpoint_every and step % train.checkpoint_every == 0):
                log.sync()
                state.plateau = _plateau_out(plateau)
                state.elapsed = elapsed()
                last_checkpoint = save_checkpoint(
                    root / f"step_{step:06d}",
                    model,
                    {**meta, "step": step, "metrics": last_rows, "fit": vars(state)},
                    train_state={"opt_state": opt_state, "carry": carry},
                )
                prune_checkpoints(root, train.keep_checkpoints)
            if stopped_early or out_of_time:
                break
        history = log.rows
    return FitResult(
        model=model,
        best_model=best_model,
        step=step,
        history=history,
        run_dir=run_dir,
        stopped_early=stopped_early,
        skipped_steps=state.skipped_steps,
        compilations=step_fn.traces - traces_before,
    )


def _past(minutes: float | None, seconds: float) -> bool:
    """Whether a ``train.max_minutes`` budget is spent after ``seconds`` of training."""
    return minutes is not None and seconds >= 60.0 * minutes


def _train_row(step: int, stats: dict[str, Any], seconds: float) -> dict[str, Any]:
    values = {name: float(value) for name, value in jax.device_get(stats).items() if name != "finite"}
    return {"step": step, "split": "train", **values, "time": seconds}


def _scores(scores: dict[str, Any]) -> dict[str, float]:
    if "loss" not in scores:
        raise ValueError(f"evaluate(model) must return a dict with a 'loss' entry, got keys {sorted(scores)}")
    return {name: float(value) for name, value in scores.items()}


def _plateau_in(saved: dict[str, Any]) -> dict[str, Any]:
    return {"best": math.inf if saved["best"] is None else saved["best"], "bad": saved["bad"]}


def _plateau_out(plateau: Plateau) -> dict[str, Any]:
    return {"best": None if math.isinf(plateau.best) else plateau.best, "bad": plateau.bad}
