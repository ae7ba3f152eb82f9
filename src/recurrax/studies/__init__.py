"""Studies that reproduce published comparisons of recurrent architectures.

`recurrax study architecture-search`: cells as computation graphs (`CellGraph`, `GraphCell`), their mutation
and crossover, and the evolutionary search of Jozefowicz, Zaremba & Sutskever 2015 (docs/architecture_search.md).
"""

from ._graph import GRU_GRAPH as GRU_GRAPH
from ._graph import LSTM_GRAPH as LSTM_GRAPH
from ._graph import MUT1_GRAPH as MUT1_GRAPH
from ._graph import MUT2_GRAPH as MUT2_GRAPH
from ._graph import MUT3_GRAPH as MUT3_GRAPH
from ._graph import REFERENCE_GRAPHS as REFERENCE_GRAPHS
from ._graph import CellGraph as CellGraph
from ._graph import GraphCell as GraphCell
from ._graph import graph_cell_factory as graph_cell_factory
from ._graph_mutate import MUTATIONS as MUTATIONS
from ._graph_mutate import crossover as crossover
from ._graph_mutate import mutate as mutate
from ._search import BUDGETS as BUDGETS
from ._search import SearchConfig as SearchConfig
from ._search import budget_config as budget_config
from ._search import results_markdown as results_markdown
from ._search import run_search as run_search
from ._search_tasks import Budget as Budget
from ._search_tasks import Candidate as Candidate
from ._search_tasks import TaskSpec as TaskSpec
from ._search_tasks import train_and_score as train_and_score
