"""The command reference in README.md, made from the CLI's own help text so the two agree.

``python -m vsearch.cli_reference README.md`` rewrites the part of the README between the
``<!-- commands -->`` markers; a test checks that it is current.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer.main

START, END = "<!-- commands -->", "<!-- /commands -->"


def commands(group: Any, prefix: str = "vsearch") -> Iterator[tuple[str, Any]]:
    """Every visible command, sub-commands after their group, as ``("vsearch folders", cmd)``.

    Commands and parameters are Click's (typer's own copy of Click in typer 0.2x), so they are
    told apart by what they have, not by class.
    """
    context = typer.main.get_command(_app()).context_class(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if command is None or command.hidden:
            continue
        yield f"{prefix} {name}", command
        if hasattr(command, "list_commands"):
            yield from commands(command, f"{prefix} {name}")


def visible_params(command: Any) -> list[Any]:
    return [p for p in command.params if not getattr(p, "hidden", False)]


def is_argument(param: Any) -> bool:
    return param.param_type_name == "argument"


def param_names(param: Any) -> str:
    if is_argument(param):
        return (param.name or "").upper()
    return ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])


def render(group: Any) -> str:
    """The reference: one section per command, its first help line, a table of its options."""
    lines = [START, ""]
    for full_name, command in [("vsearch", group), *commands(group)]:
        lines += [f"#### `{full_name}`", "", (command.help or "").strip().splitlines()[0], ""]
        params = [p for p in visible_params(command) if p.name != "help"]
        if not params:
            continue
        lines += ["| argument / option | what |", "| --- | --- |"]
        for param in params:
            text = getattr(param, "help", None) or ""
            names = param_names(param)
            shown = f"`{names}`" if is_argument(param) else names
            lines.append(f"| {shown} | {text.replace('|', '/')} |")
        lines.append("")
    return "\n".join([*lines, END])


def _app() -> typer.Typer:
    from vsearch.cli import app

    return app


def app_group() -> Any:
    return typer.main.get_command(_app())


def rewrite(readme: Path) -> bool:
    """Replace the README's reference with the current one; True when it changed."""
    text = readme.read_text()
    start, end = text.index(START), text.index(END) + len(END)
    new = text[:start] + render(app_group()) + text[end:]
    readme.write_text(new)
    return new != text


if __name__ == "__main__":
    print("updated" if rewrite(Path(sys.argv[1])) else "current")
