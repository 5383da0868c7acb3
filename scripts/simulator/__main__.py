"""`python -m scripts.simulator`: the simulator service (see service.py for the options)."""

import sys

from scripts.simulator.service import main

sys.exit(main())
