"""The ``modelobs`` command line.

Each subcommand is a thin wrapper over a library function, so whatever the
CLI does a test (or a Lambda) can do by calling the same function. To add a
subcommand, write ``_add_<name>(sub)`` that adds its parser and sets
``func``, and list it in ``_SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

_SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelobs",
        description="Serverless observability for an object-detection model.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in _SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `modelobs predict ... | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
