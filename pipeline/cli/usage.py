"""Usage errors as one line on stderr with exit code 2 (DESIGN.md), never typer's boxed panels.

The root command's `main` runs click in non-standalone mode and reports what it raises itself,
so the same line comes out of `python -m pipeline` and typer's CliRunner.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from typing import Any

# typer vendors its own click: these are the exceptions its parser raises.
from typer import Abort
from typer._click.exceptions import ClickException, NoArgsIsHelpError
from typer.core import TyperGroup

EXIT_FAILURE, EXIT_USAGE = 1, 2
STALE_FOUND = 3  # `feeds stale` found stale feeds: distinct from every error (for cron)
EXIT_CODES = (0, EXIT_FAILURE, EXIT_USAGE, STALE_FOUND)


class OneLineErrors(TyperGroup):
    """The root group: every usage error is one `error:` line and exit 2."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            outcome = super().main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
            code = outcome if isinstance(outcome, int) else 0
        except NoArgsIsHelpError as exc:  # `pipeline` or `pipeline flags` alone: the help
            exc.show()
            code = EXIT_USAGE
        except ClickException as exc:
            print(f"error: {one_line(exc)}", file=sys.stderr)
            code = exc.exit_code
        except Abort:
            print("error: aborted", file=sys.stderr)
            code = EXIT_FAILURE
        code = code if code in EXIT_CODES else EXIT_FAILURE  # e.g. 130 after Ctrl-C
        if not standalone_mode:
            return code
        sys.exit(code)


# typer coerces values with pydantic: its wording is replaced by ours.
_LIBRARY_WORDING = (
    (re.compile(r"Value error, "), ""),
    (re.compile(r"Input should be a valid integer[^.(]*"), "not a whole number"),
    (re.compile(r"Input should be a valid number[^.(]*"), "not a number"),
    (re.compile(r"Input should be a valid (\w+)[^.(]*"), r"not a valid \1"),
    (re.compile(r"Input should be greater than or equal to"), "must be at least"),
    (re.compile(r"Input should be less than or equal to"), "must be at most"),
    (re.compile(r"\.$"), ""),
)


def one_line(exc: ClickException) -> str:
    message = " ".join(exc.format_message().split())
    for pattern, replacement in _LIBRARY_WORDING:
        message = pattern.sub(replacement, message)
    message = message[:1].lower() + message[1:]
    context = getattr(exc, "ctx", None)
    if context is None:
        return message
    return f"{message} (see `{context.command_path} --help`)"
