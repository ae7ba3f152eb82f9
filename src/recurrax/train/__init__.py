"""Training: the optimiser chain, the jitted train step, the loop with its run directory, checkpoints.

``fit(model, loss_fn, get_batch, optim=OptimConfig(...), train=TrainConfig(...), run_dir=...)`` trains with
truncated BPTT (the carry passed from batch to batch), logs ``metrics.jsonl``, evaluates, keeps the best and
the last checkpoints (safetensors + JSON, written atomically) and resumes bit for bit after a kill; with
``train.devices`` it trains data parallel (or an ensemble member-parallel) over several devices or hosts.
"""

from ._checkpoint import CHECKPOINTS_DIR as CHECKPOINTS_DIR
from ._checkpoint import find_checkpoint as find_checkpoint
from ._checkpoint import load_checkpoint as load_checkpoint
from ._checkpoint import load_train_state as load_train_state
from ._checkpoint import prune_checkpoints as prune_checkpoints
from ._checkpoint import read_meta as read_meta
from ._checkpoint import same_architecture as same_architecture
from ._checkpoint import save_checkpoint as save_checkpoint
from ._checkpoint import start_run_dir as start_run_dir
from ._checkpoint import step_checkpoints as step_checkpoints
from ._clip import clip_member as clip_member
from ._config import OptimConfig as OptimConfig
from ._config import TrainConfig as TrainConfig
from ._loop import FitResult as FitResult
from ._loop import NonFiniteError as NonFiniteError
from ._loop import evaluation_hook as evaluation_hook
from ._loop import fit as fit
from ._metrics import MetricsLog as MetricsLog
from ._metrics import read_metrics as read_metrics
from ._optim import Plateau as Plateau
from ._optim import last_learning_rate as last_learning_rate
from ._optim import make_optimizer as make_optimizer
from ._optim import make_schedule as make_schedule
from ._optim import scale_learning_rate as scale_learning_rate
from ._optim import with_standard_promotion as with_standard_promotion
from ._progress import ProgressBar as ProgressBar
from ._sharding import Placement as Placement
from ._sharding import initialize_distributed as initialize_distributed
from ._sharding import make_placement as make_placement
from ._sharding import shard_batch as shard_batch
from ._step import shared_train_step as shared_train_step
