"""Reading and writing CSV and XLSX tables (bytes in, bytes out; no storage)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from enum import StrEnum

from openpyxl import Workbook, load_workbook

from crm_common.errors import BadUserInput


class TableFormat(StrEnum):
    CSV = "CSV"
    XLSX = "XLSX"


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return str(value.isoformat())  # dates from XLSX cells
    return str(value)


def read_table(
    data: bytes, table_format: TableFormat, max_rows: int
) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows (as header → text) of the first sheet; empty rows skipped."""
    rows: Iterable[Sequence[object]]
    if table_format == TableFormat.CSV:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("gb18030")  # what spreadsheet tools in China often save
            except UnicodeDecodeError as exc:
                raise BadUserInput("the CSV is neither UTF-8 nor GB18030", field="fileId") from exc
        rows = csv.reader(io.StringIO(text))
    else:
        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a broken file
            raise BadUserInput("the file is not a readable XLSX workbook", field="fileId") from exc
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
    iterator: Iterator[Sequence[object]] = iter(rows)
    header = [_cell(h).strip() for h in next(iterator, [])]
    if not any(header):
        raise BadUserInput("the table has no header row", field="fileId")
    result: list[dict[str, str]] = []
    for row in iterator:
        cells = [_cell(c) for c in row]
        if not any(c.strip() for c in cells):
            continue
        if len(result) >= max_rows:
            raise BadUserInput(f"at most {max_rows} rows per import", field="fileId")
        result.append(dict(zip(header, cells, strict=False)))
    return header, result


# Control characters XML 1.0 (so XLSX) cannot hold; GraphQL strings may carry them, and one
# such name must not make the whole export fail (openpyxl raises IllegalCharacterError).
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xlsx_safe(value: object) -> object:
    return _XLSX_ILLEGAL.sub("", value) if isinstance(value, str) else value


def write_table(
    header: Sequence[str], rows: Iterable[Sequence[object]], table_format: TableFormat
) -> bytes:
    if table_format == TableFormat.CSV:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
        return out.getvalue().encode("utf-8-sig")  # the BOM lets spreadsheet tools read UTF-8
    book = Workbook(write_only=True)
    sheet = book.create_sheet("customers")
    sheet.append(list(header))
    for row in rows:
        sheet.append([_xlsx_safe(value) for value in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
