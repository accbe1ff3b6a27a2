"""The console the commands print their results to."""

from __future__ import annotations

from rich.console import Console

LOG_WIDTH = 160


def results_console() -> Console:
    """A rich console on stdout; piped into a file or a log, it is 160 columns wide rather than rich's 80,
    which would cut the figures of a table short."""
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, LOG_WIDTH)
    return console
