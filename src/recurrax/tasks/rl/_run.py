"""`train`, `evaluate`, `load`, `play`: an RL run from config to report, and its reuse.

A run directory holds ``config.toml``, ``metrics.jsonl`` (a ``train`` row per ``train.log_every`` updates:
the mean return over seeds of the episodes that ended in the chunk's last rollout, its spread and each seed's;
an ``eval`` row at the end), ``checkpoints/step_<updates>/`` (the parameters of every seed's policy stacked on
a leading seed axis; ``meta.json`` holds the config and the environment's sizes, so the checkpoint alone
rebuilds the policies), ``learning_curve.png`` and ``report.md``.

For gymnax environments a checkpoint is written after every logged chunk of updates (the last two kept),
with the optimiser states and the environments' rollout state (``train_state.safetensors``): ``train(...,
resume=True)`` continues a killed run from its last one and ends with the same parameters, bit for bit, as
the run that was not interrupted (update ``u`` draws its randomness from ``fold_in(key, u)``). POPGym runs,
whose environments live in Python, checkpoint at the end only and do not resume.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ...config import from_dict, to_dict, to_toml
from ...train import (
    CHECKPOINTS_DIR,
    MetricsLog,
    ProgressBar,
    find_checkpoint,
    load_checkpoint,
    load_train_state,
    prune_checkpoints,
    read_meta,
    save_checkpoint,
    start_run_dir,
    step_checkpoints,
)
from ._config import RLConfig
from ._envs import JaxEnv, is_popgym, make_jax_env
from ._gym import GymnasiumEnvs, PythonLoop, popgym_maker
from ._policy import Policy, build_policy, policy_step
from ._ppo import Trainer, episode_stats, evaluate_returns

TASK = "rl"


@dataclass
class RLRun:
    """What `train` returns: the run directory, the stacked parameters of the ``S`` seeds' policies, the final
    evaluation (`evaluate`'s dict) and the logged rows."""

    run_dir: Path
    params: Any
    scores: dict[str, Any]
    rows: list[dict[str, Any]]


@dataclass
class LoadedPolicy:
    """Trained policies rebuilt from a checkpoint (`load`): ``params`` stacked over seeds, ``static`` the rest
    of the `Policy` (``policy(i)`` is seed ``i``'s), the config and the environment."""

    params: Any
    static: Any
    config: RLConfig
    env: JaxEnv | Any
    meta: dict[str, Any]
    checkpoint: Path

    @property
    def seeds(self) -> int:
        return int(jax.tree.leaves(self.params)[0].shape[0])

    def policy(self, index: int = 0) -> Policy:
        return eqx.combine(jax.tree.map(lambda leaf: leaf[index], self.params), self.static)


def seed_keys(cfg: RLConfig) -> jax.Array:
    """``[S]`` keys: seed ``train.seed + s`` for member ``s``."""
    return jnp.stack([jax.random.key(cfg.train.seed + s) for s in range(cfg.train.seeds)])


def make_env(cfg: RLConfig, seed: int = 0) -> JaxEnv | GymnasiumEnvs:
    """The `JaxEnv` of ``cfg.env``, or for ``popgym:`` names one seed's `GymnasiumEnvs`."""
    if is_popgym(cfg.env):
        if cfg.env.observe or cfg.env.memory_length is not None:
            raise ValueError("env.observe and env.memory_length apply to gymnax environments only")
        return GymnasiumEnvs(popgym_maker(cfg.env), cfg.env.num_envs, seed)
    return make_jax_env(cfg.env)


def train(cfg: RLConfig, run_dir: str | Path, *, progress: bool = True, resume: bool = False) -> RLRun:
    """Train ``train.seeds`` policies with PPO (one vmapped program for gymnax, the Gymnasium adapter for
    POPGym), log, checkpoint, evaluate, plot and write ``report.md``; ``resume`` continues from the run's last
    chunk checkpoint (see the module docstring)."""
    run_dir = start_run_dir(run_dir, to_toml(cfg), resume=resume)
    env = make_env(cfg)
    trainer = Trainer(cfg, env)
    meta = {"task": TASK, "config": to_dict(cfg), "obs_size": env.obs_size, "num_actions": env.num_actions}
    start, state = (0, None) if not resume else _last_state(run_dir, trainer, env, cfg)
    chunks = [(first, min(cfg.train.log_every, cfg.ppo.updates - first))
              for first in range(start, cfg.ppo.updates, cfg.train.log_every)]  # fmt: skip
    per_update = cfg.env.num_envs * cfg.env.num_steps * cfg.train.seeds
    with MetricsLog(run_dir, keep_until_step=start if resume else None) as log, \
            ProgressBar(cfg.ppo.updates, start, progress) as bar:  # fmt: skip
        rows = [row for row in log.rows if row["split"] == "train"]
        for first, count, metrics, seconds, params, state in _chunks(cfg, trainer, env, chunks, state):
            returns = np.asarray(metrics["return"])[:, -1]
            row = {
                "step": first + count, "split": "train", "env_steps": (first + count) * per_update // cfg.train.seeds,
                "return": _nanmean(returns), "return_sd": _nansd(returns),
                "return_per_seed": [None if np.isnan(r) else float(r) for r in returns],
                **{k: float(np.mean(np.asarray(metrics[k])[:, -1])) for k in ("loss", "entropy", "value_loss")},
                "steps_per_s": count * per_update / seconds,
            }  # fmt: skip
            log.write(row)
            rows.append(row)
            log.sync()
            save_checkpoint(run_dir / CHECKPOINTS_DIR / f"step_{first + count}", params, meta,
                            train_state=None if state is None else state[1:])  # fmt: skip
            prune_checkpoints(run_dir / CHECKPOINTS_DIR, keep=2)
            bar.advance(first + count, row)
        scores = evaluate(run_dir / CHECKPOINTS_DIR / f"step_{cfg.ppo.updates}")
        log.write({"step": cfg.ppo.updates, "split": "eval", **{k: v for k, v in scores.items() if k != "env"}})
    write_curve_png(rows, run_dir / "learning_curve.png", f"{env.name}: {cfg.model.cell}")
    (run_dir / "report.md").write_text(_report(cfg, env, rows, scores))
    return RLRun(run_dir, params, scores, rows)


def _last_state(run_dir: Path, trainer: Trainer, env: Any, cfg: RLConfig) -> tuple[int, Any]:
    """``(update, state)`` of the run's last chunk checkpoint, to resume from (gymnax only)."""
    if not isinstance(env, JaxEnv):
        raise ValueError("resume continues gymnax runs; a POPGym run (environments in Python) starts again")
    found = step_checkpoints(run_dir / CHECKPOINTS_DIR)
    if not found:
        raise ValueError(f"{run_dir} holds no checkpoint to resume from")
    update, checkpoint = found[-1]
    skeleton = jax.eval_shape(trainer.jitted()[0], seed_keys(cfg))
    params, _ = load_checkpoint(checkpoint, skeleton[0])
    opt_state, runner = load_train_state(checkpoint, skeleton[1:])
    return update, (params, opt_state, runner)


def _chunks(cfg: RLConfig, trainer: Trainer, env: Any, chunks: list[tuple[int, int]], state: Any = None):
    """Run the chunks of updates (from ``state`` when given, else a fresh start); yields ``(first, count,
    metrics [S, count], seconds, params, state)``, ``state`` None for the Gymnasium adapter."""
    keys = seed_keys(cfg)
    if isinstance(env, JaxEnv):
        init, updates = trainer.jitted()
        state = init(keys) if state is None else state
        for first, count in chunks:
            start = time.perf_counter()
            state, metrics = updates(state, keys, first, count)
            jax.block_until_ready(metrics)
            yield first, count, metrics, time.perf_counter() - start, state[0], state
        return
    params, opt_state = jax.jit(jax.vmap(trainer.init_params))(keys)
    envs = [env] + [make_env(cfg, seed=1000 * s) for s in range(1, cfg.train.seeds)]
    loop = PythonLoop(envs, trainer.policy)
    carry = jax.vmap(lambda p: trainer.policy(p).initial_carry(cfg.env.num_envs))(params)
    learn = jax.jit(jax.vmap(trainer.learn))
    for first, count in chunks:
        start, history = time.perf_counter(), []
        for update in range(first, first + count):
            update_keys = jax.vmap(lambda k: jax.random.fold_in(k, update))(keys)
            k_roll = jax.random.fold_in(update_keys[0], 1)
            initial = carry
            carry, steps = loop.rollout(params, carry, k_roll, cfg.env.num_steps)
            last_value = loop.last_value(params, carry)
            params, opt_state, info = learn(params, opt_state, initial, steps, last_value, update_keys)
            history.append({**jax.vmap(episode_stats)(steps), **info})
        metrics = jax.tree.map(lambda *xs: jnp.stack(xs, axis=1), *history)
        yield first, count, metrics, time.perf_counter() - start, params, None


def load(run: str | Path) -> LoadedPolicy:
    """The policies of a run directory (its last checkpoint) or of a checkpoint directory."""
    checkpoint = find_checkpoint(run)
    meta = read_meta(checkpoint)
    if meta.get("task") != TASK:
        raise ValueError(f"{checkpoint} is not an rl checkpoint (task {meta.get('task')!r})")
    cfg = from_dict(RLConfig, meta["config"])
    sizes = (meta["obs_size"], meta["num_actions"])
    build = lambda key: eqx.filter(build_policy(cfg.model, *sizes, key=key), eqx.is_inexact_array)  # noqa: E731
    skeleton = jax.eval_shape(jax.vmap(build), seed_keys(cfg))
    params, _ = load_checkpoint(checkpoint, skeleton)
    static = eqx.partition(build_policy(cfg.model, *sizes, key=jax.random.key(0)), eqx.is_inexact_array)[1]
    return LoadedPolicy(params, static, cfg, make_env(cfg), meta, checkpoint)


def evaluate(
    run: str | Path, *, episodes: int | None = None, greedy: bool | None = None, seed: int = 10_000
) -> dict[str, Any]:
    """The return of each seed's policy, averaged over ``episodes`` (default ``train.eval_envs``) fresh
    episodes drawn with evaluation seed ``seed`` (disjoint from training's): ``{"return": mean over seeds,
    "return_sd": their standard deviation (ddof 1), "return_per_seed": [...], "episodes", "greedy", "env"}``.
    gymnax episodes that do not end within ``train.eval_steps`` steps are left out (``unfinished``)."""
    loaded = load(run)
    cfg = loaded.config
    episodes = episodes or cfg.train.eval_envs
    greedy = cfg.train.greedy if greedy is None else greedy
    if isinstance(loaded.env, JaxEnv):
        env, steps = loaded.env, cfg.train.eval_steps

        def score(params: Any, key: jax.Array) -> tuple[jax.Array, jax.Array]:
            policy = eqx.combine(params, loaded.static)
            returns, finished = evaluate_returns(policy, env, key, episodes, steps, greedy)
            count = finished.sum()
            return jnp.where(finished, returns, 0.0).sum() / jnp.maximum(count, 1).astype(jnp.float32), count

        keys = jax.random.split(jax.random.key(seed), loaded.seeds)
        per_seed, finished = (np.asarray(x) for x in jax.jit(jax.vmap(score))(loaded.params, keys))
        unfinished = int(episodes * loaded.seeds - finished.sum())
    else:
        per_seed, unfinished = _gym_scores(loaded, episodes, greedy, seed)
    return {
        "return": float(np.mean(per_seed)), "return_sd": _nansd(per_seed),
        "return_per_seed": [float(r) for r in per_seed], "episodes": episodes, "unfinished": unfinished,
        "greedy": greedy, "env": loaded.env.name,
    }  # fmt: skip


def _gym_scores(loaded: LoadedPolicy, episodes: int, greedy: bool, seed: int) -> tuple[np.ndarray, int]:
    """Each seed's mean return over the first episode of ``episodes`` Gymnasium environments that ends within
    ``train.eval_steps`` steps, and the number that did not end."""
    cfg = loaded.config
    make = popgym_maker(cfg.env)
    envs = [GymnasiumEnvs(make, episodes, seed + 1000 * s) for s in range(loaded.seeds)]
    loop = PythonLoop(envs, lambda p: eqx.combine(p, loaded.static))
    carry = jax.vmap(lambda p: eqx.combine(p, loaded.static).initial_carry(episodes))(loaded.params)
    first = np.zeros((loaded.seeds, episodes), np.float32)
    ended = np.zeros((loaded.seeds, episodes), bool)
    key = jax.random.key(seed)
    for chunk in range(cfg.train.eval_steps):
        carry, steps = loop.rollout(loaded.params, carry, jax.random.fold_in(key, chunk), 1, greedy=greedy)
        done, ret = np.asarray(steps.done[:, 0]), np.asarray(steps.episode_return[:, 0])
        first = np.where(done & ~ended, ret, first)
        ended |= done
        if ended.all():
            break
    return np.nanmean(np.where(ended, first, np.nan), axis=1), int((~ended).sum())


def play(
    run: str | Path, *, index: int = 0, greedy: bool | None = None, seed: int = 0, max_steps: int = 200
) -> list[dict[str, Any]]:
    """One episode of seed ``index``'s policy: a row per step with the observation, the action's
    probabilities, the action, the reward and the value estimate (gymnax environments)."""
    loaded = load(run)
    if not isinstance(loaded.env, JaxEnv):
        raise ValueError("play steps gymnax environments; POPGym runs are scored with evaluate")
    env, policy = loaded.env, loaded.policy(index)
    greedy = loaded.config.train.greedy if greedy is None else greedy
    step_policy = eqx.filter_jit(policy_step)
    step_env = jax.jit(env.step)
    key = jax.random.key(seed)
    key, k_reset = jax.random.split(key)
    obs, state = env.reset(k_reset)
    carry, start = policy.initial_carry(1), jnp.ones(1, bool)
    rows = []
    for t in range(max_steps):
        key, k_act, k_env = jax.random.split(key, 3)
        carry, logits, value = step_policy(policy, carry, obs[None], start)
        action = int(jnp.argmax(logits[0]) if greedy else jax.random.categorical(k_act, logits[0]))
        next_obs, state, reward, done = step_env(k_env, state, jnp.asarray(action))
        probs = np.asarray(jax.nn.softmax(logits[0]))
        rows.append({"t": t, "obs": [round(float(v), 3) for v in obs], "probs": [round(float(p), 3) for p in probs],
                     "action": action, "reward": float(reward), "value": float(value[0])})  # fmt: skip
        if bool(done):
            break
        obs, start = next_obs, jnp.zeros(1, bool)
    return rows


def write_curve_png(rows: list[dict[str, Any]], path: str | Path, title: str = "") -> None:
    """The learning curve: each seed's return (thin) and their mean (thick) against environment steps."""
    figure = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    steps = [row["env_steps"] for row in rows]
    per_seed = np.array([[np.nan if r is None else r for r in row["return_per_seed"]] for row in rows])
    axes.plot(steps, per_seed, lw=0.7, alpha=0.5)
    axes.plot(steps, [row["return"] for row in rows], lw=2.0, color="black", label="mean over seeds")
    axes.set_xlabel("environment steps per seed")
    axes.set_ylabel("episode return")
    axes.set_title(title)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)


def _nanmean(values: np.ndarray) -> float:
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def _nansd(values: Any) -> float:
    finite = np.asarray(values, float)[np.isfinite(np.asarray(values, float))]
    return float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0


def _report(cfg: RLConfig, env: Any, rows: list[dict[str, Any]], scores: dict[str, Any]) -> str:
    seeds = ", ".join(f"{r:.3f}" for r in scores["return_per_seed"])
    return (
        f"# RL run: {env.name}, {cfg.model.cell} policy\n\n"
        f"PPO, {cfg.ppo.updates} updates of {cfg.env.num_envs} x {cfg.env.num_steps} steps per seed, "
        f"{cfg.train.seeds} seeds (from {cfg.train.seed}).\n\n"
        f"Evaluation ({scores['episodes']} episodes per seed, {'greedy' if scores['greedy'] else 'sampled'} "
        f"actions): return {scores['return']:.3f} ± {scores['return_sd']:.3f} (seeds: {seeds}).\n\n"
        f"Last training row: return {rows[-1]['return']:.3f}, {rows[-1]['steps_per_s']:,.0f} env steps/s.\n\n"
        "![learning curve](learning_curve.png)\n"
    )
