"""Entry point for ``python -m battwatch``."""

from battwatch.cli import main

raise SystemExit(main())
