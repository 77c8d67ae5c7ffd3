"""`python -m cookbook`: the command line (`cookbook.cli`)."""

import sys

from cookbook.cli import main

sys.exit(main())
