"""``python -m drone_perception``: the same command line as ``drone-perception``."""

from drone_perception.cli import main

raise SystemExit(main())
