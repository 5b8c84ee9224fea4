"""``python -m cymongoose.device.cli``: the ``cymongoose`` command."""

import sys

from . import main

sys.exit(main())
