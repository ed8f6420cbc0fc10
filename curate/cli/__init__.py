"""The command line: commands.py parses and calls the stages, render.py draws the results in
the terminal, options.py and queue.py and argilla.py hold the shared options and the command
groups. No logic of its own."""

from curate.cli.commands import main

__all__ = ["main"]
