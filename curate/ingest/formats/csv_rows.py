"""A CSV file's rows read by polars, each with the file line it starts on, exactly as the csv
module reads them (the table format's reader, table.py) -- or None where only the csv module
can say what a row is.

polars reads a million rows in a fraction of a second, the csv module in seconds, but polars
gives no line numbers, and fills a row with too few fields with nulls. Both are recovered from
the file itself: a row spans one line more for each line break inside its values, so its first
line is a running sum; and its field count is the separators on its lines less those inside its
values, plus one. The whole file goes to the csv module (which quarantines what is wrong, with
its line) when any row has the wrong count, polars refuses a row, the lines do not add up, or
the file holds what the two read differently: NUL bytes, bare carriage returns, blank lines (the
caller sends a header over more than one line there too).
"""

from __future__ import annotations

import io

import polars as pl

from curate.ingest.formats.base import read_lines_frame

BOM = b"\xef\xbb\xbf"


def polars_rows(data: bytes, separator: str, names: list[str]) -> pl.DataFrame | None:
    """The rows under the header as String columns `names` (an empty value as null) and `_row`,
    the line each starts on; None when the csv module must read the file."""
    data = data.removeprefix(BOM)
    if b"\x00" in data or data.count(b"\r") != data.count(b"\r\n"):
        return None
    try:
        rows = pl.read_csv(
            io.BytesIO(data),
            has_header=False,
            skip_rows=1,
            new_columns=names,
            schema={name: pl.String for name in names},
            separator=separator,
            encoding="utf8-lossy",
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError:
        return None
    ended = data if data.endswith(b"\n") else data + b"\n"
    lines = read_lines_frame(ended)[1:]  # the header's line is not a row
    if lines.null_count():  # a blank line: the csv module skips it, polars reads a row
        return None
    sep = pl.lit(separator)
    values = [pl.col(name).fill_null("") for name in names]
    spans = rows.select(
        (1 + pl.sum_horizontal(v.str.count_matches("\n", literal=True) for v in values)).alias(
            "span"
        ),
        pl.sum_horizontal(v.str.count_matches(sep, literal=True) for v in values).alias("inner"),
    )
    if int(spans["span"].sum() or 0) != len(lines):
        return None
    if rows.height == 0:
        return rows.with_columns(pl.lit(None, pl.Int64).alias("_row"))
    ends = spans["span"].cum_sum()  # the line (1-based, under the header) each row ends on
    through = lines.str.count_matches(separator, literal=True).cum_sum().gather(ends - 1)
    on_lines = through - pl.concat([pl.Series([0], dtype=through.dtype), through[:-1]])
    if ((on_lines - spans["inner"] + 1) != len(names)).any():
        return None
    start = pl.concat([pl.Series([0], dtype=ends.dtype), ends[:-1]]) + 2  # the header is line 1
    empty_as_null = [pl.col(n).replace("", None) for n in names]
    return rows.with_columns(*empty_as_null, start.cast(pl.Int64).alias("_row"))
