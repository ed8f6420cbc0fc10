"""The core every stage stands on: the project and its curate.toml, the workspace and its tables,
the canonical record, tasks, the engines, plugins, text helpers, and what every stage after detect
reads alike (triage classes, annotations and references, the judge's suggestions, redaction).

The core imports no stage (tests/test_imports.py checks it).
"""
