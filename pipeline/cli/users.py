"""`pipeline users`: desk users, their roles and API tokens."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from typing import Annotated

import typer

from pipeline.cli.context import EXIT_USAGE, fail, guard, session
from pipeline.cli.render import Column, Format, FormatOption, emit, plural, write
from pipeline.core import output
from pipeline.core.clock import utcnow

group = typer.Typer(no_args_is_help=True, help="Desk users (`pipeline serve`).")

USER_FIELDS = ("name", "role", "has_api_token", "disabled", "created_at")
# Sign-in throttling (pipeline.desk.throttle): failures in a row, and a lock still running.
THROTTLE_FIELDS = ("failed_sign_ins", "locked_until")


class UserRole(StrEnum):
    reviewer = "reviewer"
    observer = "observer"


@group.command("add")
def users_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    role: Annotated[UserRole, typer.Option(help="reviewer decides; observer only reads.")] = (
        UserRole.reviewer
    ),
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin's first line.")
    ] = False,
) -> None:
    """Create a desk user (the password is asked for, or read with --password-stdin)."""
    from pipeline.desk.users import UserError, add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif not _can_prompt():
        fail(
            "no terminal to ask for the password: pipe it in with --password-stdin "
            f"(printf '%s\\n' \"$PASSWORD\" | pipeline users add {name} --password-stdin)",
            EXIT_USAGE,
        )
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    repository = session(ctx).repository(create=True)

    def create() -> None:
        try:
            add_user(repository, name, password, role=role.value, now=utcnow())
        except UserError as exc:  # a bad name, role or password, or a taken name: usage
            fail(str(exc), EXIT_USAGE)

    guard(create)
    write(f"user {name} added ({role.value})")


@group.command("list")
def users_list(ctx: typer.Context, fmt: FormatOption = Format.table) -> None:
    """Desk users: name, role, whether they have an API token, disabled, sign-in throttling
    (failed sign-ins in a row; locked until, while a lock runs)."""
    from pipeline.desk.throttle import throttle_state

    repository = session(ctx).repository()
    users = guard(repository.list_users)
    throttled = guard(lambda: throttle_state(repository, utcnow()))
    rows = [
        {
            **{key: getattr(user, key) for key in USER_FIELDS},
            "failed_sign_ins": throttled.get(user.name.lower(), {}).get("failures", 0),
            "locked_until": throttled.get(user.name.lower(), {}).get("locked_until"),
        }
        for user in users
    ]
    columns = [
        Column.of("name", flexible=True, min_width=8),
        Column.of("role"),
        Column("token", lambda user: "yes" if user["has_api_token"] else "-"),
        Column("disabled", lambda user: "yes" if user["disabled"] else "-"),
        Column("failed", lambda user: str(user["failed_sign_ins"] or "-")),
        Column("locked until", lambda user: output.short_time(user["locked_until"])),
    ]
    fields = (*USER_FIELDS, *THROTTLE_FIELDS)
    emit(fmt, rows, title=plural(len(users), "user"), columns=columns, fields=fields)


@group.command("token")
def users_token(ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME")]) -> None:
    """Create or replace the user's API token and print it (only its hash is stored)."""
    from pipeline.desk.users import rotate_token

    repository = session(ctx).repository()
    write(guard(lambda: rotate_token(repository, name)))


@group.command("disable")
def users_disable(ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME")]) -> None:
    """Disable a user: sign-in, sessions and the API token stop working at once."""
    guard(lambda: session(ctx).repository().set_user_disabled(name, True))
    write(f"user {name!r} disabled")


@group.command("enable")
def users_enable(ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME")]) -> None:
    """Enable a disabled user again."""
    guard(lambda: session(ctx).repository().set_user_disabled(name, False))
    write(f"user {name!r} enabled")


def _can_prompt() -> bool:
    """Whether a hidden prompt can be answered: a terminal (getpass reads /dev/tty), or an
    input stream put in place of stdin (typer's test runner)."""
    stdin = sys.stdin
    if stdin is not sys.__stdin__ or (stdin is not None and stdin.isatty()):
        return True
    try:
        os.close(os.open("/dev/tty", os.O_RDWR))
    except OSError:
        return False
    return True
