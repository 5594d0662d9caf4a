"""How help reads in a terminal: reflowed paragraphs, and flags shown as flags.

typer keeps a docstring's line breaks, so a docstring wrapped at 100 columns leaves an orphan
word on every other line of an 80-column terminal; and it prints ``<bool>`` after a flag, as
if it took a value. Every command and group of the command line is built with these classes
(``cls=``), which fix both when help is drawn, whatever the terminal's width.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:  # typer carries its own copy of click; its types, for annotations only
    from typer._click.core import Context
    from typer._click.formatting import HelpFormatter

_BREAK = re.compile(r"(?<!\n)\n(?!\n|[-*] )")


def reflow(text: str | None) -> str | None:
    """Join the lines of each paragraph; paragraphs and list items (``- x``) keep theirs."""
    if not text:
        return text
    lines = [line.strip() for line in text.strip().splitlines()]
    return _BREAK.sub(" ", "\n".join(lines))


def _tidy(command: TyperCommand | TyperGroup, ctx: Context) -> None:
    command.help = reflow(command.help)
    for param in command.get_params(ctx):
        # typer's options are not click.Option subclasses: ask for the flag by name.
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""  # typer would print the type, <bool>


class Command(TyperCommand):
    """A command whose help reflows and shows flags without a value."""

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        """Tidy the help, then let typer draw it."""
        _tidy(self, ctx)
        super().format_help(ctx, formatter)


class Group(TyperGroup):
    """A command group whose help reflows and shows flags without a value."""

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        """Tidy the help, then let typer draw it."""
        _tidy(self, ctx)
        super().format_help(ctx, formatter)
