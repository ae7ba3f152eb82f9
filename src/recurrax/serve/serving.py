"""What a task's serving module (`recurrax.tasks.TaskSpec.serving`) builds on: the `Serving` it declares, its
`Endpoint`s, the request body base `Body` and value type `Real`, `pad_ragged`, the `Service` its handlers get,
and the service's errors (`http_error`, `not_finite`, with `bad_rows` and `nullable` to find and write
non-finite values). Needs the ``serve`` extra (fastapi, pydantic)."""

from ._schemas import Body as Body
from ._schemas import Real as Real
from ._schemas import pad_ragged as pad_ragged
from ._service import Endpoint as Endpoint
from ._service import Service as Service
from ._service import Serving as Serving
from ._service import bad_rows as bad_rows
from ._service import http_error as http_error
from ._service import not_finite as not_finite
from ._service import nullable as nullable
from ._sessions import Session as Session
from ._sessions import sample_token as sample_token
