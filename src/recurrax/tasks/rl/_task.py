"""The reinforcement-learning task's `TaskSpec` (`recurrax.tasks.get_task("rl")`): its runs are trained by
`recurrax rl train` (returns, not a validation loss, so `recurrax tune` does not search it); the policy is not
exported yet."""

from __future__ import annotations

from .._contract import TaskSpec
from ._config import RLConfig

TASK = TaskSpec(name="rl", config_type=RLConfig)
