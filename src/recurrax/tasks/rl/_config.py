"""`RLConfig`: the environment, policy, PPO, optimiser and run sections of a reinforcement-learning run."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...cells import CELLS
from ...config import require
from ...train import OptimConfig


@dataclass
class EnvConfig:
    """The environment and the shape of a rollout: one update trains on ``num_envs * num_steps``
    transitions, with back-propagation through time over each ``num_steps`` segment (truncated BPTT from the
    carry stored at the segment's start).

    Attributes:
        name: a gymnax id (``"MemoryChain-bsuite"``, ``"CartPole-v1"``, ``"MetaMaze-misc"``,
            ``"BernoulliBandit-misc"``, ...; stepped inside the jitted program) or ``"popgym:<Class>"`` (a
            POPGym environment, e.g. ``"popgym:RepeatPreviousEasy"``, stepped outside jit through the
            Gymnasium adapter); default ``"MemoryChain-bsuite"``.
        memory_length: MemoryChain's number of steps between the cue and the query (None: gymnax's 5),
            default None.
        observe: the observation indices the agent sees (empty: all); ``[0, 2]`` on CartPole-v1 hides the
            velocities (cart position and pole angle only), so the policy must infer them from its memory;
            default ``()``.
        num_envs: parallel environments per seed, default 16.
        num_steps: steps each environment is rolled out per update, default 32.
    """

    name: str = "MemoryChain-bsuite"
    memory_length: int | None = None
    observe: tuple[int, ...] = ()
    num_envs: int = 16
    num_steps: int = 32

    def __post_init__(self):
        require(bool(self.name), "name", "must name an environment")
        require(self.memory_length is None or self.memory_length >= 1, "memory_length",
                f"must be >= 1, got {self.memory_length}")  # fmt: skip
        require(all(i >= 0 for i in self.observe), "observe", f"indices must be >= 0, got {self.observe}")
        for name in ("num_envs", "num_steps"):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")


@dataclass
class PolicyConfig:
    """The actor-critic: a core, then an actor head (logits over the actions) and a critic head (the value).

    Attributes:
        cell: any registered cell (`recurrax.cells.CELLS`: ``"lstm"``, ``"gru"``, ``"cifg"``, ...), run as a
            stack whose carry is reset to zero where an episode starts; or ``"mlp"``, the memoryless control
            (tanh layers, the current observation only); default ``"lstm"``.
        hidden_size: units per core layer, default 64.
        num_layers: core layers, default 1.
        head_size: each head is one tanh layer of this size and a linear output, default 64.
    """

    cell: str = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    head_size: int = 64

    def __post_init__(self):
        known = ", ".join(sorted(CELLS))
        require(self.cell == "mlp" or self.cell in CELLS, "cell", f"unknown {self.cell!r}; known: mlp, {known}")
        for name in ("hidden_size", "num_layers", "head_size"):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")


@dataclass
class PPOConfig:
    """Proximal policy optimisation (Schulman et al. 2017) with generalised advantage estimation (Schulman et
    al. 2016).

    Loss: ``-min(r A, clip(r, 1 - clip_eps, 1 + clip_eps) A) + vf_coef * max((V - R)^2, (V_clip - R)^2) / 2
    - ent_coef * H`` with ``r = pi(a|s) / pi_old(a|s)``, ``A`` the GAE advantages and ``R = A + V_old`` the
    returns.

    Attributes:
        updates: rollouts, each followed by the PPO epochs, default 200.
        epochs: passes over each rollout, default 4.
        minibatches: groups of whole environments a rollout is split into (so every minibatch keeps its time
            axis for BPTT), default 4.
        gamma: discount factor, in [0, 1], default 0.99.
        gae_lambda: GAE's lambda, in [0, 1], default 0.95.
        clip_eps: clipping range of the ratio ``r`` (and of ``V_clip``), default 0.2.
        vf_coef: weight of the value loss, default 0.5.
        ent_coef: weight of the entropy bonus ``H``, default 0.01.
        normalize_advantages: normalise ``A`` per minibatch, default True.
    """

    updates: int = 200
    epochs: int = 4
    minibatches: int = 4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    vf_coef: float = 0.5
    ent_coef: float = 0.01
    normalize_advantages: bool = True

    def __post_init__(self):
        for name in ("updates", "epochs", "minibatches"):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        for name in ("gamma", "gae_lambda"):
            require(0 <= getattr(self, name) <= 1, name, f"must be in [0, 1], got {getattr(self, name)}")
        for name in ("clip_eps", "vf_coef", "ent_coef"):
            require(getattr(self, name) >= 0, name, f"must be >= 0, got {getattr(self, name)}")


@dataclass
class RunConfig:
    """Seeds, logging and evaluation.

    Attributes:
        seed: the first agent's seed, default 0.
        seeds: independent agents (seeds ``seed .. seed + seeds - 1``) trained as one vmapped program,
            default 3.
        log_every: updates per compiled chunk; a ``metrics.jsonl`` row after each chunk; default 10.
        eval_envs: evaluation environments per seed, default 64.
        eval_steps: evaluation steps; the first episode that each environment completes is scored, default 512.
        greedy: evaluate the greedy action (False: a sample of the policy), default True.
    """

    seed: int = 0
    seeds: int = 3
    log_every: int = 10
    eval_envs: int = 64
    eval_steps: int = 512
    greedy: bool = True

    def __post_init__(self):
        for name in ("seeds", "log_every", "eval_envs", "eval_steps"):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")


@dataclass
class RLConfig:
    """An RL run: ``env``, ``model``, ``ppo``, ``optim`` and ``train`` sections (TOML tables). The optimiser
    is `recurrax.train.make_optimizer`'s chain (Adam, global-norm clipping at 0.5 first, as PPO uses)."""

    env: EnvConfig = field(default_factory=EnvConfig)
    model: PolicyConfig = field(default_factory=PolicyConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=3e-4, clip_norm=0.5))
    train: RunConfig = field(default_factory=RunConfig)

    def __post_init__(self):
        require(self.env.num_envs % self.ppo.minibatches == 0, "ppo.minibatches",
                f"must divide env.num_envs = {self.env.num_envs}, got {self.ppo.minibatches}")  # fmt: skip
        require(self.optim.schedule != "plateau", "optim.schedule", "plateau needs a validation loss; PPO has none")
