"""Environment steps per second: the jitted rollout (`recurrax.tasks.rl.rollout`: environments and policy in
one `lax.scan`) against a plain Python loop over time with the same pieces jitted per step.

    nice -n 10 python benchmarks/rl_speed.py [--envs 1 16 256] [--steps 128] [--repeats 5] [--out F.json]

For MemoryChain-bsuite (length 20) and CartPole-v1, with an LSTM policy (64 units) acting and with uniform
random actions (the environment alone), ``B`` environments stepped ``T`` steps:

- ``scan``: one jitted call of the whole rollout (vmapped environments, the policy inside the scan);
- ``python``: a Python ``for`` loop over the ``T`` steps, each step one jitted policy call and one jitted,
  vmapped environment call (the usual loop of a Gymnasium-style trainer, here with JAX environments);
- ``popgym``: POPGym's RepeatPreviousEasy through the Gymnasium adapter (`PythonLoop`: the policy step jitted
  and vmapped, the environments stepped one by one in Python), with the LSTM policy.

Each number is the median over ``--repeats`` timed rounds after a compiling call. ``ratio`` = scan / python.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import jax
import jax.numpy as jnp

from recurrax._host import cpu_name, usable_cores
from recurrax.tasks import rl


def _median_seconds(call, repeats: int) -> float:
    jax.block_until_ready(call())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(call())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _random_policy(num_actions: int):
    """Uniform random actions: the environment's own cost."""

    def step(key, obs):
        return jax.random.randint(key, obs.shape[:1], 0, num_actions)

    return step


def measure(env: rl.JaxEnv, num_envs: int, num_steps: int, repeats: int, with_policy: bool) -> dict:
    policy = rl.build_policy(rl.PolicyConfig(hidden_size=64), env.obs_size, env.num_actions, key=jax.random.key(0))
    runner = rl.start_runner(policy, env, jax.random.key(1), num_envs)
    key = jax.random.key(2)
    random_act = _random_policy(env.num_actions)

    if with_policy:
        whole = jax.jit(lambda runner, key: rl.rollout(policy, env, runner, key, num_steps)[1].reward)
        act = jax.jit(lambda carry, obs, start, key: (lambda c, l, v: (c, jax.random.categorical(key, l)))(
            *rl.policy_step(policy, carry, obs, start)))
    else:
        def scan_random(runner, key):
            def body(carry, k):
                state, obs = carry
                k_act, k_env = jax.random.split(k)
                action = random_act(k_act, obs)
                obs, state, reward, _ = jax.vmap(env.step)(jax.random.split(k_env, num_envs), state, action)
                return (state, obs), reward
            return jax.lax.scan(body, (runner.env_state, runner.obs), jax.random.split(key, num_steps))[1]

        whole = jax.jit(scan_random)
        act = jax.jit(lambda carry, obs, start, key: (carry, random_act(key, obs)))
    env_step = jax.jit(lambda key, state, action: jax.vmap(env.step)(jax.random.split(key, num_envs), state, action))

    def python_loop():
        state, obs, start, carry = runner.env_state, runner.obs, runner.start, runner.carry
        rewards = []
        for k in jax.random.split(key, num_steps):
            k_act, k_env = jax.random.split(k)
            carry, action = act(carry, obs, start, k_act)
            obs, state, reward, start = env_step(k_env, state, action)
            rewards.append(reward)
        return jnp.stack(rewards)

    steps = num_envs * num_steps
    scan = steps / _median_seconds(lambda: whole(runner, key), repeats)
    python = steps / _median_seconds(python_loop, repeats)
    return {"env": env.name, "policy": "lstm-64" if with_policy else "random", "envs": num_envs,
            "scan_steps_per_s": scan, "python_steps_per_s": python, "ratio": scan / python}  # fmt: skip


def measure_popgym(num_envs: int, num_steps: int, repeats: int) -> dict:
    import popgym.envs

    envs = rl.GymnasiumEnvs(popgym.envs.RepeatPreviousEasy, num_envs, seed=0)
    policy = rl.build_policy(rl.PolicyConfig(hidden_size=64), envs.obs_size, envs.num_actions, key=jax.random.key(0))
    import equinox as eqx

    params, static = eqx.partition(policy, eqx.is_inexact_array)
    stacked = jax.tree.map(lambda leaf: leaf[None], params)
    loop = rl.PythonLoop([envs], lambda p: eqx.combine(p, static))
    carry = jax.tree.map(lambda leaf: leaf[None], policy.initial_carry(num_envs))
    seconds = _median_seconds(lambda: loop.rollout(stacked, carry, jax.random.key(0), num_steps)[1].reward, repeats)
    return {"env": "popgym:RepeatPreviousEasy", "policy": "lstm-64", "envs": num_envs,
            "python_steps_per_s": num_envs * num_steps / seconds}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, nargs="+", default=[1, 16, 256])
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", help="write the rows as JSON here")
    args = parser.parse_args()
    machine = f"{cpu_name()}, {usable_cores()} usable cores, jax {jax.__version__} on {jax.devices()[0].platform}"
    print(f"machine: {machine}")
    print(f"{'env':28s} {'policy':8s} {'B':>5s} {'scan steps/s':>14s} {'python steps/s':>15s} {'ratio':>8s}")
    rows = []
    envs = [rl.make_jax_env(rl.EnvConfig(memory_length=20)), rl.make_jax_env(rl.EnvConfig(name="CartPole-v1"))]
    for env in envs:
        for with_policy in (True, False):
            for num_envs in args.envs:
                row = measure(env, num_envs, args.steps, args.repeats, with_policy)
                rows.append(row)
                print(f"{row['env']:28s} {row['policy']:8s} {num_envs:5d} {row['scan_steps_per_s']:14,.0f} "
                      f"{row['python_steps_per_s']:15,.0f} {row['ratio']:8.1f}", flush=True)  # fmt: skip
    for num_envs in args.envs[:2]:
        row = measure_popgym(num_envs, min(args.steps, 64), max(1, args.repeats // 2))
        rows.append(row)
        print(f"{row['env']:28s} {row['policy']:8s} {num_envs:5d} {'-':>14s} {row['python_steps_per_s']:15,.0f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"machine": machine, "steps": args.steps, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
