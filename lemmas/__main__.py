"""`python -m lemmas`: see lemmas/cli.py."""

import sys

from lemmas.cli import main

sys.exit(main())
