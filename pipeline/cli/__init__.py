"""The `pipeline` command: thin modules over shared plumbing; only this package prints.

- `app.py`: the root options and the registration of every command module.
- `context.py`: one `Session` per invocation (config read once, repository opened on first use
  and disposed at exit); `guard`/`fail` turn errors into one stderr line and an exit code.
- `render.py`: the one `--format` option (`FormatOption`) and the one JSON/CSV/table renderer
  (`emit` for rows, `emit_object` for one object, `write` for a line).

Adding a command group `candidates`: write `pipeline/cli/candidates.py` with
`group = typer.Typer(no_args_is_help=True, help=...)` and its commands
(`@group.command("list")`, each taking `ctx: typer.Context`, reading through
`session(ctx).repository()` inside `guard(...)`, printing through `emit(fmt, rows, ...)`), then
add one line `"candidates": candidates,` to the group table in app.py (and the import).
A top-level command (`pipeline x`) is a module with `COMMANDS = (x,)`, added to the tuple of
top-level modules in app.py. A new command in an existing group (`flags export`) goes in its own
module decorating that group (`from pipeline.cli.flags import group`); import the module in
app.py so it registers.
"""
