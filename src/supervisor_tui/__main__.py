"""``python -m supervisor_tui``: the command line (the demo's floor side is started so)."""

import sys

from supervisor_tui.cli import main

sys.exit(main())
