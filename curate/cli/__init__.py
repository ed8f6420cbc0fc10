"""The command line: main.py is the `curate` group; stages.py, workspace.py, queue.py and
argilla.py hold its commands, options.py what they share, render.py what they print for people.
No logic of its own."""

from curate.cli.main import main

__all__ = ["main"]
