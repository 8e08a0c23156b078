"""Load a user's CSV into a Dataset, rejecting anything doubtful with a precise message.

Rules:
- comma-separated, UTF-8 (a BOM is fine), the first non-blank row is the header;
- every column but the target holds numbers (quotes and surrounding spaces are fine);
- the target is the column named ``target`` (any case) if there is one, else the last column;
- a numeric target with two distinct values is classification (lower -> -1, higher -> +1);
  whole numbers with 3-10 distinct values, or 3-10 distinct texts, are classes 0..k-1
  (``dataset.class_target``); other numbers are regression; two texts are sorted -> -1, +1;
- blank lines are skipped; too many rows or feature columns are rejected, never truncated;
- a column name or a cell longer than 100 characters is rejected (a 5 MB column name once froze
  every browser that showed the run), and a message quotes at most about 60 characters of it.

Row numbers in messages are the lines of the file as an editor shows them: the header
is row 1 and the first data row is row 2.

The records are read by a small RFC 4180 reader (``_records``) rather than the csv
module: csv's strict mode rejects blanks after a closing quote (``"1.5" ,``) without
saying where, and its lenient mode silently glues ``"4"5`` into ``45``.
"""
from __future__ import annotations

import codecs
import math
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np

from .dataset import Dataset, DatasetError, class_target

MAX_ROWS = 10_000
MAX_FEATURES = 20
MAX_NAME_LENGTH = 100   # characters of a column name
MAX_CELL_LENGTH = 100   # characters of a cell
_MISSING = {"na", "n/a", "#n/a", "nan", "null", "none", "?"}
_SEPARATOR_HINTS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def load_csv(source, name: str | None = None, max_rows: int = MAX_ROWS, max_features: int = MAX_FEATURES) -> Dataset:
    """Read a CSV from a path (str or Path), bytes, or a binary/text file-like object.

    Raises DatasetError naming the row and column of the first problem found.
    """
    if max_rows < 2 or max_features < 1:
        raise DatasetError(f"max_rows must be at least 2 and max_features at least 1 "
                           f"(got {max_rows} and {max_features})")
    raw, default_name = _read_source(source)
    text = raw if isinstance(raw, str) else _decode(raw)
    if text.startswith("\ufeff"):
        text = text[1:]
    nul = text.find("\x00")
    if nul >= 0:
        raise DatasetError(f"Row {len(_EOL.findall(text, 0, nul)) + 1} contains a NUL byte: this looks like a binary "
                           f"file (or UTF-16 text), not a CSV. Save the file as a UTF-8 CSV and load it again.")
    return _parse(text, name if name is not None else default_name, max_rows, max_features)


# ---------------------------------------------------------------- reading and decoding

def _read_source(source):
    """-> (bytes or str, default dataset name)."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            return path.read_bytes(), path.stem
        except FileNotFoundError:
            raise DatasetError(f"CSV file not found: {path}") from None
        except IsADirectoryError:
            raise DatasetError(f"{path} is a folder, not a CSV file") from None
        except OSError as e:
            raise DatasetError(f"Cannot read the CSV file {path}: {e.strerror or e}") from None
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), "csv"
    if hasattr(source, "getvalue"):  # BytesIO / StringIO / Streamlit's UploadedFile: the whole upload
        data = source.getvalue()
    elif hasattr(source, "read"):
        data = source.read()
    else:
        raise DatasetError(f"load_csv needs a path, bytes or a file object, got {type(source).__name__}")
    if not isinstance(data, (str, bytes, bytearray)):
        raise DatasetError(f"Reading the file gave {type(data).__name__}, not text or bytes")
    file_name = getattr(source, "name", None)
    stem = Path(file_name).stem if isinstance(file_name, str) and file_name else "csv"
    return (data if isinstance(data, str) else bytes(data)), stem


def _decode(raw: bytes) -> str:
    bom = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    try:
        return raw[bom:].decode("utf-8")
    except UnicodeDecodeError as e:
        offset = bom + e.start
        line = len(_EOL.findall(raw[bom:offset].decode("utf-8"))) + 1
        hint = ""
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            hint = " (it looks like UTF-16, e.g. Excel's 'Unicode Text')"
        raise DatasetError(
            f"The file is not valid UTF-8{hint}: byte 0x{raw[offset]:02X} at byte offset {offset} "
            f"(row {line}) cannot be decoded. Save the file as UTF-8 (in Excel: 'CSV UTF-8') and load it again."
        ) from None


def _quoted(text: str, width: int = 60) -> str:
    """repr() of user text for a message, cut to about `width` characters."""
    return repr(text) if len(text) <= width else repr(text[:width - 1]) + "…"


def _col(name: str) -> str:
    """A column name in a message: "name", cut short."""
    return f'"{name}"' if len(name) <= 40 else f'"{name[:39]}…"'


# ---------------------------------------------------------------- numbers

def _number(cell: str):
    """A float for a plain decimal number (possibly nan/inf), else None."""
    if not cell.isascii() or "_" in cell:  # float() also takes '1_000' and non-ASCII digits
        return None
    try:
        return float(cell)
    except ValueError:
        return None


def _cell_problem(cell: str) -> str | None:
    """Why ``cell`` (stripped) is not a usable finite number, or None if it is one."""
    if cell == "":
        return "the cell is empty. Fill in a number or remove the row"
    value = _number(cell)
    if value is None:
        if cell.lower() in _MISSING:
            return f"{_quoted(cell)} is a missing value. Fill in a number or remove the row"
        hint = ""
        if "," in cell:
            hint = " (use '.' as the decimal point and no thousands separators)"
        return f"{_quoted(cell)} is not a number{hint}. Fix the cell or remove the row"
    if math.isnan(value):
        return f"{_quoted(cell)} is not a number (NaN). Fill in a number or remove the row"
    if math.isinf(value):
        return f"{_quoted(cell)} is infinite (or too large for a 64-bit float). Use a finite number or remove the row"
    return None


# ---------------------------------------------------------------- parsing

_EOL = re.compile(r"\r\n|\r|\n")
# one cell: optional blanks, then a quoted cell ("" is an escaped quote; it may span lines) or a bare
# cell without quotes, optional blanks, then the separator: a comma, a line break or the end of the text
_CELL = re.compile(r'[ \t]*+(?:"((?:[^"]++|"")*+)"[ \t]*+|([^,"\r\n]*+))(,|\r\n|\r|\n|\Z)')
_QUOTED = re.compile(r'"(?:[^"]++|"")*+"')


def _records(text: str):
    """Yield (row number, stripped cells) for every non-blank record.

    A small RFC 4180 reader that also accepts blanks around quoted cells, and reports
    malformed quoting (which the csv module either rejects without a position or
    silently glues together).
    """
    pos, row, end = 0, 1, len(text)
    while pos < end:
        eol = _EOL.search(text, pos)
        line_end = eol.start() if eol else end
        if text.find('"', pos, line_end) < 0:  # fast path: no quotes on this line
            cells = [c.strip() for c in text[pos:line_end].split(",")]
            pos, start_row = (eol.end() if eol else end), row
            row += 1
        else:
            cells, start_row = [], row
            while True:
                m = _CELL.match(text, pos)
                if m is None:
                    raise DatasetError(_quote_problem(text, pos, row))
                quoted, bare, sep = m.groups()
                if quoted is not None:
                    if "\n" in quoted or "\r" in quoted:
                        row += len(_EOL.findall(quoted))
                    cells.append(quoted.replace('""', '"').strip())
                else:
                    cells.append(bare.strip())
                pos = m.end()
                if sep != ",":
                    row += 1
                    break
        if any(cells):
            yield start_row, cells


def _quote_problem(text: str, pos: int, row: int) -> str:
    """Explain why no cell starts at ``pos`` (on ``row``)."""
    at = pos
    while at < len(text) and text[at] in " \t":
        at += 1
    fix = 'Quote a cell as a whole, like "a, b", and double any quote inside it ("").'
    if not text.startswith('"', at):
        cell = _EOL.split(text[pos:pos + 60], 1)[0].split(",", 1)[0].strip()
        return f"Row {row}: the cell {cell!r} contains a double quote but is not quoted as a whole. {fix}"
    m = _QUOTED.match(text, at)
    if m is None:
        return (f"Row {row}: a double quote opens a cell but is never closed. Close it, or remove it "
                f"(quotes are only needed around cells that contain commas, quotes or line breaks).")
    row += len(_EOL.findall(m.group()))
    after = _EOL.split(text[m.end():m.end() + 30], 1)[0]
    return f"Row {row}: unexpected text {after!r} after the closing quote of a quoted cell. {fix}"


def _fmt_names(names) -> str:
    return ", ".join(map(_col, names))


def _parse(text: str, name: str, max_rows: int, max_features: int) -> Dataset:
    records = _records(text)
    first = next(records, None)
    if first is None:
        raise DatasetError("The CSV file is empty. It needs a header row naming the columns "
                           "(e.g. x1,x2,target) and at least 2 rows of data.")
    header_row, header = first

    # --- header
    for i, col in enumerate(header):
        if len(col) > MAX_NAME_LENGTH:
            raise DatasetError(f"Row {header_row}, column {i + 1}: the column name is {len(col):,} characters long "
                               f"({_quoted(col)}); a name may have at most {MAX_NAME_LENGTH} characters.")
    named = [c for c in header if c]
    if all(_number(c) is not None for c in named):
        shown = ", ".join(_quoted(c, 20) for c in named[:3])
        raise DatasetError(
            f"Row {header_row} has no column names: every cell is a number ({shown}"
            f"{', ...' if len(named) > 3 else ''}), so the file has no header. Add a first row naming the "
            f"columns, e.g. {','.join([f'x{i + 1}' for i in range(max(len(named) - 1, 1))] + ['target'])}.")
    # trailing unnamed columns that are empty everywhere (spreadsheet export residue) are dropped below
    n_cols = len(header)
    while n_cols > 1 and header[n_cols - 1] == "":
        n_cols -= 1
    trailing_blank = n_cols < len(header)
    for i, col in enumerate(header[:n_cols]):
        if col == "":
            raise DatasetError(f"Row {header_row}, column {i + 1} of the header has no name. "
                               f"Give every column a name.")
    seen = {}
    for i, col in enumerate(header[:n_cols]):
        if col in seen:
            raise DatasetError(f'Row {header_row}: the column name {_col(col)} appears twice in the header '
                               f"(columns {seen[col] + 1} and {i + 1}). Give every column a unique name.")
        seen[col] = i
    columns = header[:n_cols]
    if n_cols < 2:
        hint = ""
        for sep, word in _SEPARATOR_HINTS.items():
            if sep in columns[0]:
                hint = f" The header looks separated by {word}: save the file with commas as separators."
                break
        raise DatasetError(f'The file has only one column ({_col(columns[0])}); it needs at least one feature '
                           f"column and a target column.{hint}")
    target_cols = [i for i, col in enumerate(columns) if col.lower() == "target"]
    if len(target_cols) > 1:
        raise DatasetError(f"Row {header_row}: several columns are named target "
                           f"({_fmt_names(columns[i] for i in target_cols)}). Rename all but one of them.")
    t = target_cols[0] if target_cols else n_cols - 1
    features = [i for i in range(n_cols) if i != t]
    if len(features) > max_features:
        raise DatasetError(f"The file has {len(features)} feature columns; the limit is {max_features}. "
                           f"Remove columns until at most {max_features} features are left (nothing is dropped "
                           f"automatically).")

    # --- rows: keep up to max_rows, then only count
    rows = []
    count = 0
    at_least = ""
    try:
        for row, cells in records:
            count += 1
            if count <= max_rows:
                rows.append((row, cells))
    except DatasetError:
        if count <= max_rows:
            raise
        at_least = "at least "  # a malformed record past the cap: the size is the message that matters
    if count > max_rows:
        raise DatasetError(f"The file has {at_least}{count:,} data rows; the limit is {max_rows:,}. Keep at most "
                           f"{max_rows:,} rows (e.g. a random sample); nothing is truncated automatically.")
    if count < 2:
        raise DatasetError(f"The file has {count} data row{'' if count == 1 else 's'} below the header; "
                           f"it needs at least 2.")

    # --- cells
    target_name = columns[t]
    X = np.empty((len(rows), len(features)), dtype=np.float64)
    plain = text.isascii() and "_" not in text  # then float() alone decides what a number is
    y_text = []
    for r, (row, cells) in enumerate(rows):
        if cells and max(map(len, cells)) > MAX_CELL_LENGTH:
            j = next(j for j, cell in enumerate(cells) if len(cell) > MAX_CELL_LENGTH)
            where = f"column {_col(columns[j])}" if j < n_cols else f"column {j + 1}"
            raise DatasetError(f"Row {row}, {where}: the cell is {len(cells[j]):,} characters long "
                               f"({_quoted(cells[j])}); a cell may have at most {MAX_CELL_LENGTH} characters.")
        if trailing_blank and n_cols <= len(cells) <= len(header):
            extra = next((j for j in range(n_cols, len(cells)) if cells[j]), None)
            if extra is not None:
                raise DatasetError(f"Row {row}, column {extra + 1}: this column has no name in the header but "
                                   f"holds {_quoted(cells[extra])}. Name the column in the header or delete the cell.")
        elif len(cells) != len(header):
            got, expected = len(cells), len(header)
            hint = "a missing cell or comma" if got < expected else "an extra comma, or a comma inside an unquoted cell"
            raise DatasetError(f"Row {row} has {got} cells but the header has {expected} columns "
                               f"(check for {hint}). Every row needs one cell per column.")
        try:
            if not plain:
                raise ValueError
            values = [float(cells[j]) for j in features]
            if not math.isfinite(sum(values)):
                raise ValueError
        except ValueError:  # slow path: find the bad cell (a finite sum overflowing lands here too)
            values = []
            for j in features:
                problem = _cell_problem(cells[j])
                if problem:
                    raise DatasetError(f'Row {row}, column {_col(columns[j])}: {problem}.') from None
                values.append(_number(cells[j]))
        X[r] = values
        cell = cells[t]
        value = _number(cell)
        if cell == "" or cell.lower() in _MISSING or (value is not None and not math.isfinite(value)):
            raise DatasetError(f'Row {row}, column {_col(target_name)} (the target): {_cell_problem(cell)}.')
        y_text.append(cell)

    y, task, classes = _target(y_text, [row for row, _ in rows], target_name)
    return Dataset(name, X, y, task, tuple(columns[j] for j in features), classes)


def _target(cells: list[str], row_numbers: list[int], target_name: str):
    """-> (y, task, classes) from the target column's stripped, non-missing cells."""
    values = [_number(c) for c in cells]
    where = f'The target column {_col(target_name)}'
    if all(v is not None for v in values):
        y = np.array(values, dtype=np.float64)
        distinct = np.unique(y)
        if len(distinct) < 2:
            raise DatasetError(f"{where} has the same value ({_quoted(cells[0], 20)}) in every row; it needs at least "
                               f"two different values.")
        if len(distinct) == 2:
            lo, hi = distinct
            first_text = {}
            for v, c in zip(values, cells):
                first_text.setdefault(v, c)
            return np.where(y == hi, 1.0, -1.0), "classification", (first_text[lo], first_text[hi])
        classes = class_target(cells, values, target_name)
        if classes is not None:
            return classes[0], "classification", classes[1]
        return y, "regression", None

    counts = Counter(cells)
    if len(counts) == 2:
        lo, hi = sorted(counts)
        return np.array([1.0 if c == hi else -1.0 for c in cells]), "classification", (lo, hi)
    n_numeric = sum(v is not None for v in values)
    if n_numeric >= len(values) - n_numeric:  # mostly numbers: point at the odd cell out
        i = next(i for i, v in enumerate(values) if v is None)
        raise DatasetError(f'Row {row_numbers[i]}, column {_col(target_name)} (the target): {_cell_problem(cells[i])}.')
    if len(counts) < 2:
        raise DatasetError(f"{where} has the same class ({_quoted(cells[0], 20)}) in every row; a text target needs "
                           f"at least two classes.")
    y, class_names = class_target(cells, None, target_name)  # 3 to 10 classes; more are refused there
    return y, "classification", class_names
