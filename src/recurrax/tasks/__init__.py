"""Tasks: thin compositions of a model, a loss, metrics and prediction over `recurrax.train.fit`.

- `recurrax.tasks.forecast`: global forecasters over many series, statistical baselines, backtests.
- `recurrax.tasks.lm`: character- and word-level language modelling (fit, evaluate, sample).
- `recurrax.tasks.classify`: sequence classification (fit, evaluate, predict).
- `recurrax.tasks.anomaly`: anomaly detection in series: LSTM scorers, Telemanom and other detectors.
- `recurrax.tasks.seq2seq`: encoder-decoder with attention, greedy and beam-search decoding.
- `recurrax.tasks.ctc`: sequence labelling without alignments (CTC loss, greedy and prefix beam decoding).
- `recurrax.tasks.rl`: recurrent policies trained by PPO (gymnax inside jit, Gymnasium environments outside).

Each task folder declares one `TaskSpec` (its ``_task.py``), registered here; export, the HTTP service,
re-training, tuning and the CLI find a task with `get_task` (`recurrax.tasks._contract` says what a spec
holds). A new task is one folder plus one line below.
"""

from . import anomaly as anomaly
from . import classify as classify
from . import ctc as ctc
from . import forecast as forecast
from . import lm as lm
from . import rl as rl
from . import seq2seq as seq2seq
from ._contract import Function as Function
from ._contract import Holdout as Holdout
from ._contract import Inference as Inference
from ._contract import Input as Input
from ._contract import TaskSpec as TaskSpec
from ._contract import model_weights as model_weights
from ._registry import get_task as get_task
from ._registry import register as register
from ._registry import task_names as task_names
from .anomaly._task import TASK as _ANOMALY
from .classify._task import TASK as _CLASSIFY
from .ctc._task import TASK as _CTC
from .forecast._task import TASK as _FORECAST
from .lm._task import TASK as _LM
from .rl._task import TASK as _RL
from .seq2seq._task import TASK as _SEQ2SEQ

for _spec in (_LM, _CLASSIFY, _FORECAST, _ANOMALY, _SEQ2SEQ, _CTC, _RL):
    register(_spec)
