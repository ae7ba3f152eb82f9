"""``python -m recurrax`` is the ``recurrax`` command."""

import sys

from .cli import main

sys.exit(main())
