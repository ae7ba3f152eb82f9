"""The model lifecycle around training: registry, tracking, re-training, hyperparameter search, and the
benchmark runner over frozen evaluation protocols with its test-access ledger (`run_protocol`)."""

from ._benchmark import benchmark_report as benchmark_report
from ._benchmark import run_protocol as run_protocol
from ._benchmark import summary as summary
from ._ledger import read_ledger as read_ledger
from ._ledger import test_access_count as test_access_count
from ._protocol import BenchmarkProtocol as BenchmarkProtocol
from ._protocol import Evaluator as Evaluator
from ._protocol import config_hash as config_hash
from ._protocol import load_protocol as load_protocol
from ._protocol import protocol_files as protocol_files
from ._registry import ModelRegistry as ModelRegistry
from ._registry import ModelVersion as ModelVersion
from ._registry import STAGES as STAGES
from ._retrain import RetrainDecision as RetrainDecision
from ._retrain import decide as decide
from ._retrain import retrain as retrain
from ._search_space import Param as Param
from ._search_space import apply_params as apply_params
from ._search_space import check_space as check_space
from ._search_space import parse_param as parse_param
from ._search_space import parse_space as parse_space
from ._tracking import track_to_mlflow as track_to_mlflow
from ._tune import TuneResult as TuneResult
from ._tune import load_tune_config as load_tune_config
from ._tune import trials_table as trials_table
from ._tune import tune as tune
from ._tune import tune_task as tune_task
from ._tune import write_results as write_results
