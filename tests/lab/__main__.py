"""Entry point: ``python tests/lab start|stop|status ...`` (see cli.py)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lab.cli import main  # noqa: E402  (needs the path set above)

sys.exit(main())
