"""How every `otgate` command's help reads: what it does, its own page, and examples at the end."""

from __future__ import annotations

import argparse
from typing import Any


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps descriptions and examples as written (line breaks and indentation are part of the text)."""


def command(
    commands: Any, name: str, summary: str, description: str, *examples: str
) -> argparse.ArgumentParser:
    """A sub-command whose help says what it does (`summary` in the list, `description` on its own page)
    and ends with its examples."""
    heading = "example:" if len(examples) == 1 else "examples:"
    return commands.add_parser(  # type: ignore[no-any-return]
        name,
        help=summary,
        description=description,
        epilog=heading + "".join(f"\n  {example}" for example in examples),
        formatter_class=HelpFormatter,
    )
