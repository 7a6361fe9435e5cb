"""``python -m twin.cli``: the same entry point as the ``twin`` console script."""

import sys

from twin.cli import main

sys.exit(main())
