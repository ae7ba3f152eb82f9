"""Tasks: thin compositions of a model, a loss, metrics and prediction over `recurrax.train.fit`.

- `recurrax.tasks.forecast`: global forecasters over many series, statistical baselines, backtests.
- `recurrax.tasks.lm`: character- and word-level language modelling (fit, evaluate, sample).
- `recurrax.tasks.classify`: sequence classification (fit, evaluate, predict).
- `recurrax.tasks.anomaly`: anomaly detection in series: LSTM scorers, Telemanom and other detectors.
- `recurrax.tasks.seq2seq`: encoder-decoder with attention, greedy and beam-search decoding.
"""

from . import anomaly as anomaly
from . import classify as classify
from . import forecast as forecast
from . import lm as lm
from . import seq2seq as seq2seq
