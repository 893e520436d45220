"""``drone-perception`` command line. Each sub-command lives in its own module with a
``register(subparsers)`` function that adds its parser and sets ``func`` (returning an exit code)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from drone_perception.errors import DronePerceptionError

#: Sub-command modules, in the order they appear in ``--help``.
COMMANDS: tuple[str, ...] = (
    "drone_perception.cli.sim",
    "drone_perception.cli.track",
    "drone_perception.cli.sim_vehicle",
    "drone_perception.cli.audit",
    "drone_perception.cli.detect",
    "drone_perception.cli.export",
    "drone_perception.cli.run",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drone-perception",
        description="Film and follow a person at a safe distance: simulation, perception, audit.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except DronePerceptionError as exc:
        print(f"drone-perception {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
