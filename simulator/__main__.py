"""`python -m simulator run|show …`; see simulator/cli.py and `python -m simulator --help`."""

from .cli import main

raise SystemExit(main())
