"""Entry point of ``python -m mock_servers``."""

import sys

from .cli import main

sys.exit(main())
