"""``drone-perception`` command line. Each sub-command lives in its own module with a
``register(subparsers)`` function that adds its parser and sets ``func`` (returning an exit code).

Errors never end in a traceback: bad input (a missing or malformed file, a bad value, a dead link) prints one
line ``drone-perception COMMAND: error: ...`` and exits 2; an unexpected internal error prints one line naming
it and exits 70 (``-vv`` logs the traceback); Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import re
import sys
from collections.abc import Sequence

from drone_perception.errors import DronePerceptionError
from drone_perception.version import version_text

log = logging.getLogger(__name__)

#: Sub-command modules, in the order they appear in ``--help``.
COMMANDS: tuple[str, ...] = (
    "drone_perception.cli.sim",
    "drone_perception.cli.track",
    "drone_perception.cli.sim_vehicle",
    "drone_perception.cli.audit",
    "drone_perception.cli.detect",
    "drone_perception.cli.export",
    "drone_perception.cli.run",
    "drone_perception.cli.campaign",
)
#: Exit status of an unexpected internal error (BSD sysexits EX_SOFTWARE).
EXIT_INTERNAL = 70


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help without reStructuredText markup, with each option's default when it has one worth saying."""

    def _format_text(self, text: str) -> str:
        return super()._format_text(_plain(text))

    def _get_help_string(self, action: argparse.Action) -> str:
        text = _plain(action.help or "")
        default = action.default
        if ("default" not in text and default is not None and default is not False
                and default is not argparse.SUPPRESS and action.option_strings and action.nargs != 0):
            text += " (default: %(default)s)"
        return text


def _plain(text: str) -> str:
    """``code`` -> code, :class:`X` / :func:`y` -> X / y."""
    return re.sub(r":\w+:`~?([^`]+)`", r"\1", text.replace("``", ""))


class Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="drone-perception",
        description="Film and follow a person at a safe distance: simulation, perception, audit.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    parser.add_argument("--version", action="version", version=version_text())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    for command in sub.choices.values():  # -v after the sub-command too (`detect x -v`)
        command.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                             help="more logging (-vv for debug)")
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
    except OSError as exc:  # a file that cannot be read or written: bad input, one line
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"drone-perception {args.command}: error:{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"drone-perception {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line, the traceback with -vv
        log.debug("internal error", exc_info=True)
        print(f"drone-perception {args.command}: internal error: {type(exc).__name__}: {exc} (run with -vv for "
              "the traceback, and please report it)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
