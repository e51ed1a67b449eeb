"""``python -m demo``: the offline demo (see the ``demo`` package docstring)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from demo import DemoError, run_demo

HEADER = """\
sanctions-watch demo (offline: nothing leaves 127.0.0.1)
Serves three sample feeds (RSS 2.0, Atom, JSON Feed) and ten sample article pages from a
local HTTP server, runs `pipeline run --once` against them into a fresh SQLite database,
then prints `pipeline flags list`. Expect flags for the stories on the December 2024 US
designations (E.O. 13382); none for the Ghana NDC, climate NDC, cricket, bakery and court
stories. One feed item links to a missing page: its feed summary is used instead.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=HEADER.splitlines()[0])
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="write the config and database to DIR and keep them (default: a temporary directory)",
    )
    args = parser.parse_args(argv)
    print(HEADER)
    try:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            config = run_demo(args.keep)
            print(f"\nKept: {config} (try `pipeline --config {config} flags show 1`)")
        else:
            with tempfile.TemporaryDirectory(prefix="sanctions-watch-demo-") as workdir:
                run_demo(Path(workdir))
    except DemoError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return exc.exit_status
    return 0


if __name__ == "__main__":
    sys.exit(main())
