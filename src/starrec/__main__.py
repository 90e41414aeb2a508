"""``python -m starrec``: the ``starrec`` command (:mod:`starrec.app.cli`)."""

import sys

from starrec.app.cli import main

sys.exit(main())
