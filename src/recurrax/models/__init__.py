"""The stacks users call: `RNNStack` of any cell, `LSTM`, `GRU`; attention over padded sequences; ensembles
of one architecture stacked on a member axis (`stack_members`, `member_at`); distribution heads (`HEADS`:
point, gaussian, student_t, quantile; `num_params`, `head_loss`, `point_loss`, `point_forecast`,
`head_quantiles` in NumPy, `raw_quantiles` in JAX)."""

from ._attention import masked_softmax as masked_softmax
from ._ensemble import map_members as map_members
from ._ensemble import member_at as member_at
from ._ensemble import stack_members as stack_members
from ._heads import HEADS as HEADS
from ._heads import MIN_SCALE as MIN_SCALE
from ._heads import POINT_LOSSES as POINT_LOSSES
from ._heads import head_loss as head_loss
from ._heads import head_quantiles as head_quantiles
from ._heads import interpolation_matrix as interpolation_matrix
from ._heads import num_params as num_params
from ._heads import point_forecast as point_forecast
from ._heads import point_loss as point_loss
from ._heads import raw_quantiles as raw_quantiles
from ._heads import t_quantile as t_quantile
from ._stack import GRU as GRU
from ._stack import LSTM as LSTM
from ._stack import RNNStack as RNNStack
