"""What `curate report` prints: the report's sections (curate/report/sections.py), as the HTML
page has them, without the charts."""

from __future__ import annotations

import re
from typing import Any

NUMBER = re.compile(r"[-+]?[\d,.]+( pts)?%?( \[.*\])?|-")


VERDICT_COLOURS = {"fixed": "green", "improved": "green", "worse": "red"}


def _table(section_table, title: str = ""):
    """A report section's table for the terminal; a verdict column in colour."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title or None)
    for i, column in enumerate(section_table.header):
        numeric = all(NUMBER.fullmatch(str(row[i])) for row in section_table.rows)
        table.add_column(column, justify="right" if numeric else "left", overflow="fold")
    verdict = section_table.header.index("verdict") if "verdict" in section_table.header else -1
    for row in section_table.rows:
        cells = [escape(str(c)) for c in row]
        if verdict >= 0:
            cells[verdict] = f"[{VERDICT_COLOURS.get(row[verdict], 'dim')}]{cells[verdict]}[/]"
        table.add_row(*cells)
    return table


def report(out, data: dict[str, Any], html_path: str | None) -> None:
    """The report's sections (curate/report/sections.py), as the HTML file has them, without
    the charts."""
    from rich.markup import escape

    from curate.report.sections import SECTIONS

    for section in SECTIONS:
        text, items, table = section.text(data), section.items(data), section.table(data)
        if not (text or items or table):
            continue
        out.print(f"\n[bold]{escape(section.question)}[/]")
        for line in text:
            out.print(escape(line))
        for item in items:
            out.print(f"  - {escape(item)}")
        if table:
            out.print(_table(table))
    if html_path:
        out.print(f"\nwrote {html_path}")
