"""Reading bulk files as staff make them: CSV in any encoding, delimiter and line ending Excel writes, or XLSX.

Everything streams: bytes are read in chunks and counted, text is decoded chunk by chunk, and rows are yielded one at
a time, so memory stays constant in the number of rows (an XLSX is spooled to a temporary file first, because a ZIP
needs random access).
"""

from __future__ import annotations

import codecs
import csv
import io
import sys
import tempfile
import zipfile
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import chain
from operator import itemgetter
from typing import IO, BinaryIO, Generic, TypeVar, cast

from intake.bulk.types import FileRejected, RowIssue

CANONICAL_COLUMNS = ("requestId", "docID", "firstName", "lastName", "dateOfBirth", "role", "password", "locationId")
REQUIRED_COLUMNS = ("docID", "firstName", "lastName", "dateOfBirth", "role", "locationId")
# A row whose learner fields are all blank is not a learner (the template's example row holds only the others).
LEARNER_COLUMNS = ("docID", "firstName", "lastName", "dateOfBirth", "password")
# Stands in for a cell longer than max_cell_chars. Its NULs make it fail every field rule, should it slip past.
TOO_LONG = "\x00TOO_LONG\x00"
SAVE_AS_CSV = "in Excel choose File > Save As > CSV UTF-8 (Comma delimited) (*.csv) and upload that file"

_CHUNK = 64 * 1024
_BINARY_SNIFF = 1024
_MAX_COLUMN_WARNINGS = 20
_SPOOL_IN_MEMORY = 16 * 1024 * 1024
_MAGIC = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old-style Excel workbook (.xls) or another Office file"),
    (b"PK\x05\x06", "an empty ZIP archive"),
)
_Row = TypeVar("_Row")
_HEADER_KEY_DROP = str.maketrans("", "", " \t\u00a0\ufeff_-")
_CANONICAL_BY_KEY = {name.lower(): name for name in CANONICAL_COLUMNS}


@dataclass(slots=True)
class FileInfo:
    """What the reader learned about a file: format, encoding, delimiter, columns present, file-level warnings."""

    format: str  # "csv" | "xlsx"
    encoding: str  # "utf-8", "utf-8-sig", "utf-16", "cp1252"; "" for xlsx
    delimiter: str
    columns: list[str]
    header_line: int = 1
    warnings: list[RowIssue] = field(default_factory=list)


def read_rows(
    stream: BinaryIO, *, max_bytes: int, max_rows: int, max_cell_chars: int = 1000
) -> tuple[FileInfo, Iterator[tuple[int, dict[str, str]]]]:
    """The file's description and a lazy iterator of (spreadsheet line, {canonical column: cell}) per learner row.

    The header is read eagerly, so FileRejected for NOT_CSV, EMPTY_FILE, MISSING_COLUMN and DUPLICATE_COLUMN comes
    from this call; TOO_LARGE, TOO_MANY_ROWS and BAD_ENCODING can also come from the iterator, and then the whole
    file is rejected. Lines count as in a spreadsheet: one per record (a quoted cell holding line breaks is one row,
    as Excel shows it), blank rows included, the header being line 1 unless blank rows precede it. Blank rows and
    rows whose docID, firstName, lastName, dateOfBirth and password are all blank are skipped and not counted.
    A cell longer than max_cell_chars is replaced by the TOO_LONG marker, for the row checker to report on its field.
    The dict holds every canonical column, "" for an optional one the file lacks (FileInfo.columns has those present).
    An ASCII-only start is read as UTF-8; if a later byte is not UTF-8 the file turns out to be Windows-1252 and
    FileInfo.encoding changes, so read it after the rows.
    """
    info, rows = read_values(stream, max_bytes=max_bytes, max_rows=max_rows, max_cell_chars=max_cell_chars)
    return info, ((line, dict(zip(CANONICAL_COLUMNS, values, strict=True))) for line, values in rows)


def read_values(
    stream: BinaryIO, *, max_bytes: int, max_rows: int, max_cell_chars: int = 1000
) -> tuple[FileInfo, Iterator[tuple[int, tuple[str, ...]]]]:
    """read_rows with each row as a tuple of cells in CANONICAL_COLUMNS order: no dict per row."""
    return read_checked(stream, check=_pair, max_bytes=max_bytes, max_rows=max_rows, max_cell_chars=max_cell_chars)


@dataclass(frozen=True, slots=True)
class QuickCheck(Generic[_Row]):
    """A check of raw records that accepts the common clean row cheaply, made for one file's column layout.

    Both return only rows they accept; anything else goes down the usual path (cells in canonical order, then
    `check`), so they must accept only learner rows with no cell longer than max_cell_chars.
    record(line, record): the row of one record, or None for the usual path.
    block(line, text, usual): the rows of a block of comma-separated lines without double quotes that follows `line`,
    in order and in batches, each line not accepted sent to usual(its line, its text); returns the block's last line.
    """

    record: Callable[[int, list[str]], _Row | None]
    block: Callable[[int, str, Callable[[int, str], _Row | None]], Generator[Sequence[_Row], None, int]]


# Given the positions of the file's canonical columns and the record width: the quick check, or None.
QuickFor = Callable[[dict[str, int], int], QuickCheck[_Row] | None]


def read_checked(
    stream: BinaryIO,
    *,
    check: Callable[[int, tuple[str, ...]], _Row],
    quick_for: QuickFor[_Row] | None = None,
    max_bytes: int,
    max_rows: int,
    max_cell_chars: int = 1000,
) -> tuple[FileInfo, Iterator[_Row]]:
    """read_values with `check(line, cells)` applied to each row, a quick check of the raw records first if given.

    The hot path: a comma-separated file is handed to the quick check a block of lines at a time, up to the first
    block holding a double quote (a quoted cell may hold line breaks, so from there csv reads record by record).
    """
    source = _CountedBytes(stream, max_bytes)
    head = source.read_at_least(max(_CHUNK, _BINARY_SNIFF))
    if not head:
        raise _empty_file()
    encoding = _sniff(head)
    text: _CsvText | None = None
    if encoding == "zip":
        info, records, close = _open_xlsx(head, source)
        lines_before = 0
    else:
        info = FileInfo(format="csv", encoding=encoding, delimiter=",", columns=[])
        text = _CsvText(_whole_line_blocks(_text_chunks(head, source, _Decoder(info))))
        lines_before, records = _csv_records(text, source, info)
        close = _nothing
    by_blocks = text if info.delimiter == "," else None  # the quick check's line shape is comma-separated
    rows = _learner_rows(records, lines_before, info, max_rows, max_cell_chars, close, check, quick_for, by_blocks)
    sentinel = object()
    first = next(rows, sentinel)
    if first is sentinel:
        raise FileRejected(
            "EMPTY_FILE",
            "The file has a header but no learners: add one row per learner under the header and upload it again",
        )
    return info, chain((cast(_Row, first),), rows)


def _pair(line: int, values: tuple[str, ...]) -> tuple[int, tuple[str, ...]]:
    return line, values


def _empty_file() -> FileRejected:
    return FileRejected("EMPTY_FILE", f"The file is empty: fill in the template and upload it; {SAVE_AS_CSV}")


class _CountedBytes:
    """The upload's bytes, counted as they are read, so an oversized object is refused without reading it whole."""

    def __init__(self, stream: IO[bytes], max_bytes: int) -> None:
        self._stream = stream
        self.max_bytes = max_bytes
        self.total = 0

    def read(self, size: int) -> bytes:
        data = self._stream.read(size)
        self.total += len(data)
        if self.total > self.max_bytes:
            raise FileRejected(
                "TOO_LARGE",
                f"The file is larger than the limit of {_human_size(self.max_bytes)}: split it into smaller files",
            )
        return data

    def read_at_least(self, size: int) -> bytes:
        parts = []
        got = 0
        while got < size:
            data = self.read(size - got)
            if not data:
                break
            parts.append(data)
            got += len(data)
        return b"".join(parts)


def _human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MB"
    if size >= 1024:
        return f"{size / 1024:g} KB"
    return f"{size} bytes"


def _sniff(head: bytes) -> str:
    """The text encoding to start with, or "zip"; FileRejected(NOT_CSV) for other binaries."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise _not_csv(what)
    if b"\x00" in head[:_BINARY_SNIFF]:
        raise _not_csv("not a text file")
    return "utf-8"


def _not_csv(what: str) -> FileRejected:
    description = what if what.startswith("not ") else f"{what}, not a CSV file"
    return FileRejected("NOT_CSV", f"This file is {description}: {SAVE_AS_CSV}.")


def _nothing() -> None:
    return None


# --- CSV -------------------------------------------------------------------------------------------------------------


class _Decoder:
    """Bytes to text; a UTF-8 guess becomes Windows-1252 at the first non-UTF-8 byte if all before it was ASCII."""

    def __init__(self, info: FileInfo) -> None:
        self._info = info
        self._pending = b""
        self._ascii_so_far = True
        self._codec: codecs.IncrementalDecoder | None = None
        if info.encoding != "utf-8":
            errors = "replace" if info.encoding == "cp1252" else "strict"
            self._codec = codecs.getincrementaldecoder(info.encoding)(errors)

    def decode(self, data: bytes, final: bool = False) -> str:
        if self._codec is not None:
            try:
                return self._codec.decode(data, final)
            except UnicodeDecodeError:
                raise _bad_encoding(self._info.encoding) from None
        if self._pending:
            data = self._pending + data
        try:
            text, used = codecs.utf_8_decode(data, "strict", final)
        except UnicodeDecodeError as exc:
            if not (self._ascii_so_far and data[: exc.start].isascii()):
                raise _bad_encoding("utf-8") from None
            self._info.encoding = "cp1252"
            self._codec = codecs.getincrementaldecoder("cp1252")("replace")
            return self._codec.decode(data, final)
        self._pending = data[used:]
        if self._ascii_so_far and not text.isascii():
            self._ascii_so_far = False
        return text


def _bad_encoding(encoding: str) -> FileRejected:
    name = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16": "UTF-16"}.get(encoding, encoding)
    return FileRejected("BAD_ENCODING", f"The file is not valid {name} text (it mixes text encodings): {SAVE_AS_CSV}.")


def _text_chunks(head: bytes, source: _CountedBytes, decoder: _Decoder) -> Iterator[str]:
    data = head
    while data:
        text = decoder.decode(data)
        if text:
            yield text
        data = source.read(_CHUNK)
    text = decoder.decode(b"", final=True)
    if text:
        yield text


def _whole_line_blocks(chunks: Iterable[str]) -> Iterator[str]:
    """The text re-cut so that every block ends at a line break (CRLF never split), for io.StringIO to split."""
    pending: list[str] = []
    for text in chunks:
        cut = max(text.rfind("\n"), text.rfind("\r"))
        if cut == len(text) - 1 and text[cut] == "\r":
            # the "\n" of a CRLF may start the next chunk
            cut = max(text.rfind("\n", 0, cut), text.rfind("\r", 0, cut))
        if cut < 0:
            pending.append(text)
            continue
        pending.append(text[: cut + 1])
        yield "".join(pending)
        pending = [text[cut + 1 :]]
    rest = "".join(pending)
    if rest:
        yield rest


class _CsvText:
    """A CSV's text in blocks of whole lines, read line by line for csv or, after the header, block by block."""

    def __init__(self, blocks: Iterator[str]) -> None:
        self._blocks = blocks
        self._current = io.StringIO("")

    def lines(self) -> Iterator[str]:
        """Every line left, line breaks kept."""
        return chain.from_iterable(self._streams())

    def _streams(self) -> Iterator[io.StringIO]:
        for block in self._blocks:
            # newline="" splits on CRLF, LF and CR alike and keeps the breaks, as csv needs for quoted line breaks
            self._current = io.StringIO(block, newline="")
            yield self._current

    def blocks(self) -> Iterator[str]:
        """What lines() has not yielded yet, a block at a time; put one back with push() to read on by lines()."""
        rest = self._current.read()
        if rest:
            yield rest
        yield from self._blocks

    def push(self, block: str) -> None:
        self._blocks = chain((block,), self._blocks)


def _csv_records(text: _CsvText, source: _CountedBytes, info: FileInfo) -> tuple[int, Iterator[list[str]]]:
    """The blank lines before the first record, and a csv reader of the records; the delimiter found on the way."""
    lines = text.lines()
    blank = 0
    for first in lines:
        if first.strip():
            break
        blank += 1
    else:
        raise _empty_file()
    stripped = first.strip().lstrip("\ufeff")
    if stripped[:4].lower() == "sep=" and len(stripped) == 5:
        # Excel's own delimiter hint; Excel does not show it as a row
        info.delimiter = stripped[4]
    else:
        info.delimiter = max((",", ";", "\t"), key=first.count)
        lines = chain((first,), lines)
    limit = min(sys.maxsize, source.max_bytes + 1)  # no cell holds more characters than the file has bytes
    if csv.field_size_limit() < limit:
        csv.field_size_limit(limit)
    return blank, _csv_reader(lines, info.delimiter)


def _csv_reader(lines: Iterable[str], delimiter: str) -> Iterator[list[str]]:
    return csv.reader(lines, delimiter=delimiter, quotechar='"', doublequote=True, strict=False)


# --- XLSX ------------------------------------------------------------------------------------------------------------


def _open_xlsx(head: bytes, source: _CountedBytes) -> tuple[FileInfo, Iterator[list[str]], Callable[[], None]]:
    import openpyxl  # only XLSX uploads pay for the import

    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115 - closed by the row iterator
    try:
        data = head
        while data:
            spool.write(data)
            data = source.read(_CHUNK)
        spool.seek(0)
        try:
            with zipfile.ZipFile(spool) as archive:
                is_workbook = "xl/workbook.xml" in archive.namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
            raise _not_csv("a damaged ZIP archive") from None
        if not is_workbook:
            raise _not_csv("a ZIP archive")
        spool.seek(0)
        try:
            workbook = openpyxl.load_workbook(spool, read_only=True, data_only=True)
            sheet = workbook.worksheets[0]
        except Exception:
            raise _not_csv("a workbook that could not be opened") from None
    except BaseException:
        spool.close()
        raise
    sheet.reset_dimensions()  # some writers record a wrong size; read every row there is

    def close() -> None:
        workbook.close()
        spool.close()

    def records() -> Iterator[list[str]]:
        try:
            for values in sheet.iter_rows(values_only=True):
                yield [_cell_text(value) for value in values]
        except FileRejected:
            raise
        except Exception:
            raise _not_csv("a workbook whose first sheet could not be read") from None

    info = FileInfo(format="xlsx", encoding="", delimiter="", columns=[])
    return info, records(), close


def _cell_text(value: object) -> str:
    """A typed cell back as the person saw it: dates as MM/DD/YYYY, whole numbers without a decimal point."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime | date):
        return f"{value.month:02d}/{value.day:02d}/{value.year:04d}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        # beyond 15 digits Excel has already lost some: show it as Excel does, so the DOC ID rule says so
        return f"{value:.5E}" if value.is_integer() else format(value, ".15g")
    return str(value)


# --- header and rows -------------------------------------------------------------------------------------------------


def _learner_rows(
    records: Iterator[list[str]],
    lines_before: int,
    info: FileInfo,
    max_rows: int,
    max_cell_chars: int,
    close: Callable[[], None],
    check: Callable[[int, tuple[str, ...]], _Row],
    quick_for: QuickFor[_Row] | None,
    text: _CsvText | None,
) -> Iterator[_Row]:
    try:
        line, header = _header(records, lines_before, info)
        positions = _columns(header, info)
        width, usual = _usual_row(positions, check, max_cell_chars)
        quick = quick_for(positions, width) if quick_for is not None else None
        if quick is not None and text is not None:
            rows: Iterator[Sequence[_Row]] = _block_rows(text, line, quick, usual)
        else:
            rows = _record_rows(records, line, quick, usual)
        count = 0
        for batch in rows:
            count += len(batch)
            if count > max_rows:
                yield from batch[: len(batch) - (count - max_rows)]
                raise _too_many_rows(max_rows)
            yield from batch
    except csv.Error as exc:
        raise FileRejected("NOT_CSV", f"The file could not be read as CSV ({exc}): {SAVE_AS_CSV}.") from None
    finally:
        close()


def _header(records: Iterator[list[str]], line: int, info: FileInfo) -> tuple[int, list[str]]:
    """The first non-blank record and its line."""
    for header in records:
        line += 1
        if any(cell.strip() for cell in header):
            info.header_line = line
            return line, header
    raise _empty_file()


def _usual_row(
    positions: dict[str, int], check: Callable[[int, tuple[str, ...]], _Row], max_cell_chars: int
) -> tuple[int, Callable[[int, list[str]], _Row | None]]:
    """The record width of the layout, and the usual path of one record: None for a blank row, else check's row."""
    width = max(positions.values()) + 1
    # a column the file lacks reads the cell just past the widest one, which every record is padded to hold
    values_of = itemgetter(*(positions.get(name, width) for name in CANONICAL_COLUMNS))
    learner_fields_of = itemgetter(*(positions.get(name, width) for name in LEARNER_COLUMNS))
    blank_last = len(positions) < len(CANONICAL_COLUMNS)
    padded = width + 1 if blank_last else width

    def usual(line: int, record: list[str]) -> _Row | None:
        if len(record) != padded or (blank_last and record[-1]):
            if not record:
                return None
            record = _fit(record, padded, blank_last)
        learner_fields = "".join(learner_fields_of(record))
        if not learner_fields or learner_fields.isspace():
            return None
        values = values_of(record)
        if len("".join(values)) > max_cell_chars:
            values = tuple(TOO_LONG if len(value) > max_cell_chars else value for value in values)
        return check(line, values)

    return width, usual


def _record_rows(
    records: Iterator[list[str]],
    line: int,
    quick: QuickCheck[_Row] | None,
    usual: Callable[[int, list[str]], _Row | None],
) -> Iterator[Sequence[_Row]]:
    """The rows of the records after `line`, one record per line, one row per batch."""
    for record in records:
        line += 1
        row = quick.record(line, record) if quick is not None else None
        if row is None:
            row = usual(line, record)
            if row is None:
                continue
        yield (row,)


def _block_rows(
    text: _CsvText, line: int, quick: QuickCheck[_Row], usual: Callable[[int, list[str]], _Row | None]
) -> Iterator[Sequence[_Row]]:
    """Batches of rows of the comma-separated text after `line`, by blocks of lines up to the first double quote."""

    def one_line(number: int, raw: str) -> _Row | None:
        # without a double quote a line is one record, which csv reads as it would in the file
        record = next(_csv_reader((raw,), ","), [])
        row = quick.record(number, record)
        return usual(number, record) if row is None else row

    for block in text.blocks():
        if '"' in block:
            text.push(block)
            yield from _record_rows(_csv_reader(text.lines(), ","), line, quick, usual)
            return
        line = yield from quick.block(line, block, one_line)


def _too_many_rows(max_rows: int) -> FileRejected:
    return FileRejected(
        "TOO_MANY_ROWS",
        f"The file has more than {max_rows:,} learners: split it into files of at most {max_rows:,} rows each",
    )


def _fit(record: list[str], width: int, blank_last: bool) -> list[str]:
    """The record cut or padded to width cells; with blank_last, its last cell blank (read for absent columns)."""
    if len(record) < width:
        return record + [""] * (width - len(record))
    if blank_last:
        record = record[:width]
        record[-1] = ""
    return record


def _columns(header: list[str], info: FileInfo) -> dict[str, int]:
    """Canonical column → index; unknown columns become warnings, duplicated or missing ones reject the file."""
    positions: dict[str, int] = {}
    for index, raw in enumerate(header):
        key = raw.translate(_HEADER_KEY_DROP).lower()
        if not key:
            continue
        name = _CANONICAL_BY_KEY.get(key)
        if name is None:
            _warn_unknown_column(info, raw.strip(), index)
            continue
        if name in positions:
            raise FileRejected(
                "DUPLICATE_COLUMN",
                f"The column {name} appears twice in the header (columns {_letter(positions[name])} and "
                f"{_letter(index)}): delete one of them and upload the file again",
            )
        positions[name] = index
    missing = [name for name in REQUIRED_COLUMNS if name not in positions]
    if missing:
        raise FileRejected("MISSING_COLUMN", _missing_message(missing))
    info.columns = [name for name in CANONICAL_COLUMNS if name in positions]
    return {name: positions[name] for name in info.columns}


def _warn_unknown_column(info: FileInfo, name: str, index: int) -> None:
    if len(info.warnings) >= _MAX_COLUMN_WARNINGS:
        return
    shown = name if len(name) <= 40 else name[:40] + "…"
    info.warnings.append(
        RowIssue(
            line=info.header_line,
            request_id="",
            doc_id="",
            field=shown,
            code="UNKNOWN_COLUMN",
            message=f"Column {_letter(index)} '{shown}' is not a template column and was ignored",
            severity="warning",
        )
    )


def _missing_message(missing: list[str]) -> str:
    if len(missing) == 1:
        what, them = f"{missing[0]} column", "it"
    else:
        what, them = f"{', '.join(missing[:-1])} or {missing[-1]} columns", "them"
    return f"The header has no {what}: add {them} (the template's header is {','.join(CANONICAL_COLUMNS)})"


def _letter(index: int) -> str:
    """The spreadsheet letter of a 0-based column index (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
