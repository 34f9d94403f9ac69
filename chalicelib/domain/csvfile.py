"""Reading the CSV files people export from spreadsheets and phone systems: one reader for every import.

It strips nothing the caller needs and tolerates what spreadsheets write: a UTF-8 BOM (stripped by the
caller), Excel's ``sep=;`` first line, CRLF, blank lines, cells spanning lines. Rows keep the physical line
they start on, so every error can name the line a person sees in their editor.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RowError:
    """What is wrong with one field of one row (``field`` is ``file`` or ``row`` for the whole thing)."""

    line: int
    field: str
    message: str


@dataclass(frozen=True)
class CsvRow:
    """A non-blank row and the physical line it starts on."""

    line: int
    cells: list[str]


_SEP_LINE = re.compile(r"\s*sep=([,;\t|])\s*", re.IGNORECASE)


def utf8_size(text: str, limit: int) -> int:
    """The UTF-8 size, or a cheap stand-in when the text is surely under ``limit`` bytes."""
    if len(text) * 4 <= limit:
        return len(text)  # not the size, but under the limit whatever it is: no need to encode
    return len(text.encode("utf-8", "surrogatepass"))


def read_rows(
    text: str, *, delimiter_for: Callable[[str], str], max_rows: int
) -> tuple[list[CsvRow], str, RowError | None]:
    """Non-blank rows with the physical line each starts on, the delimiter, and why reading stopped early.

    ``delimiter_for(header_line)`` picks the delimiter unless an Excel ``sep=`` line names it. Reading stops
    one row past ``max_rows`` (header included): the caller refuses the file then.
    """
    source = io.StringIO(text, newline="")
    consumed = 0
    while True:
        position = source.tell()
        line = source.readline()
        if not line:
            return [], ",", None
        consumed += 1
        if line.strip():
            break
    if sep := _SEP_LINE.fullmatch(line):
        delimiter = sep[1]
    else:
        delimiter = delimiter_for(line)
        source.seek(position)
        consumed -= 1
    reader = csv.reader(source, delimiter=delimiter, quotechar='"', skipinitialspace=True, strict=False)
    rows: list[CsvRow] = []
    previous = 0
    try:
        for cells in reader:
            start = consumed + previous + 1
            previous = reader.line_num
            if any(cell.strip() for cell in cells):
                rows.append(CsvRow(start, cells))
                if len(rows) > max_rows + 1:  # the header and one row too many
                    break
    except csv.Error as error:
        return (
            rows,
            delimiter,
            RowError(consumed + previous + 1, "row", f"the file cannot be read as CSV here: {error}"),
        )
    return rows, delimiter, None
