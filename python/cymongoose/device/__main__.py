"""``python -m cymongoose.device``: the ``cymongoose`` command."""

import sys

from .cli import main

sys.exit(main())
