"""LSTM speed benchmark: recurrax against torch ``nn.LSTM``, flax, equinox and cuDNN (torch on CPU in its own process).

``recurrax bench`` and ``benchmarks/lstm_speed.py`` are thin fronts over this package: `make_plan` picks the
configs, peers and repetitions, `run_benchmark` times them (fwd+bwd and forward, median over rounds after a
first compiling call and warm-up) and `print_report` / `markdown_report` show the tables with
``x`` = torch time / implementation time. torch and flax are optional: a missing one shows as ``n/a``.
"""

from ._configs import CPU_CONFIGS as CPU_CONFIGS
from ._configs import GPU_CONFIGS as GPU_CONFIGS
from ._configs import PEERS as PEERS
from ._configs import Config as Config
from ._configs import Plan as Plan
from ._configs import make_plan as make_plan
from ._configs import parse_config as parse_config
from ._peers import recurrax_pair as recurrax_pair
from ._peers import torch_pair as torch_pair
from ._report import markdown_report as markdown_report
from ._report import print_report as print_report
from ._run import prepare_environment as prepare_environment
from ._run import run_benchmark as run_benchmark
from ._timing import Entry as Entry
from ._timing import Unavailable as Unavailable
from ._timing import measure as measure
