"""The ``recurrax`` command: one module per command group, thin over the library.

Errors print one line and exit non-zero; ``RECURRAX_DEBUG=1`` shows the traceback instead.
"""

from ._app import app as app
from ._app import main as main
from ._app import run as run
