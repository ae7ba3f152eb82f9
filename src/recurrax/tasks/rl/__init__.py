"""Reinforcement learning with recurrent policies: recurrent PPO on partially observed environments.

    >>> from recurrax.tasks import rl
    >>> cfg = rl.RLConfig()                                   # MemoryChain-bsuite, an LSTM policy, 3 seeds
    >>> run = rl.train(cfg, "runs/memory")                    # doctest: +SKIP
    >>> rl.evaluate("runs/memory")["return"]                  # doctest: +SKIP
    >>> rows = rl.play("runs/memory")                         # doctest: +SKIP

Pieces: environments (`JaxEnv`, `make_jax_env`: gymnax, stepped inside jit; `GymnasiumEnvs`: the Gymnasium
adapter, e.g. POPGym, stepped in Python), the actor-critic (`Policy`, `build_policy`, `policy_step`: any
cell of the zoo as the core, its carry reset at episode starts inside the scan; ``cell = "mlp"`` the
memoryless control), PPO (`gae`, `rollout`, `ppo_loss`, `Trainer`: rollouts and updates as one jitted
program, seeds vmapped), the config (`RLConfig` and its sections) and runs (`train`, `evaluate`, `load`,
`play`, `write_curve_png`) and the export (`rl_inference`: the policy as the stateful step function ``act``).
"""

from ._config import EnvConfig as EnvConfig
from ._config import PolicyConfig as PolicyConfig
from ._config import PPOConfig as PPOConfig
from ._config import RLConfig as RLConfig
from ._config import RunConfig as RunConfig
from ._envs import JaxEnv as JaxEnv
from ._envs import make_jax_env as make_jax_env
from ._gym import GymnasiumEnvs as GymnasiumEnvs
from ._gym import PythonLoop as PythonLoop
from ._inference import rl_inference as rl_inference
from ._policy import Policy as Policy
from ._policy import build_policy as build_policy
from ._policy import policy_step as policy_step
from ._policy import reset_where as reset_where
from ._ppo import Runner as Runner
from ._ppo import Trainer as Trainer
from ._ppo import Transition as Transition
from ._ppo import evaluate_returns as evaluate_returns
from ._ppo import gae as gae
from ._ppo import ppo_loss as ppo_loss
from ._ppo import rollout as rollout
from ._ppo import start_runner as start_runner
from ._run import LoadedPolicy as LoadedPolicy
from ._run import RLRun as RLRun
from ._run import evaluate as evaluate
from ._run import load as load
from ._run import play as play
from ._run import train as train
from ._run import write_curve_png as write_curve_png
