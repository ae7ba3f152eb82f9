"""The reinforcement-learning task's `TaskSpec` (`recurrax.tasks.get_task("rl")`): its runs are trained by
`recurrax rl train` (returns, not a validation loss, so `recurrax tune` does not search it); a recurrent policy
is exported as the stateful step function ``act`` and served one observation at a time."""

from __future__ import annotations

from .._contract import TaskSpec
from ._config import RLConfig
from ._inference import rl_inference

TASK = TaskSpec(name="rl", config_type=RLConfig, inference=rl_inference, serving="recurrax.tasks.rl._serving")
