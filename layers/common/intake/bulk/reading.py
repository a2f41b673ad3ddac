"""Reading bulk files as staff make them: CSV in any encoding, delimiter and line ending Excel writes, or XLSX.

Everything streams: bytes are read in chunks and counted, text is decoded chunk by chunk, and rows are yielded one at
a time, so memory stays constant in the number of rows (an XLSX is spooled to a temporary file first, because a ZIP
needs random access).

Everything is bounded too, so that no file can hold a validator for long (docs/security.md, "Bounded spreadsheet
reading"): the rows a sheet may number (blank ones included), the columns of a row, the cells of a file, the members
of a workbook's ZIP and what each unpacks to (declared and counted), its shared strings, and the CPU time of a file.
Every XML part of a workbook is parsed by defusedxml (no DTD, no entities) from a byte-counted stream.

The reader knows nothing of checking. read_file reads the header and hands back the rows to come as a Sheet of
parts: on the CSV fast path, Lines (blocks of whole lines of text, split as _LINE says, for a consumer to walk), then
Records (each learner row's line and cells). Sheet.bound keeps the rows a consumer makes of them within the limits.
"""

from __future__ import annotations

import codecs
import csv
import io
import posixpath
import re
import struct
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import chain
from operator import itemgetter
from typing import IO, TYPE_CHECKING, Any, BinaryIO, TypeVar, cast

from intake.bulk.types import FileRejected, RowIssue
from intake.settings import get_settings

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

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
# A row may have at most this many columns (a record this wide, or a cell this far right, rejects the file).
MAX_COLUMNS = 1000
# Beyond the header and max_rows learners, a sheet may number as many blank rows again and this many more.
_SPARE_ROWS = 1000
_CELLS_PER_ROW = 64  # a file may hold this many cells per row it may number, on average
_CPU_CHECK_EVERY = 1024  # learner rows between two looks at the CPU time
_R = TypeVar("_R")
# a line as io.StringIO(newline="") splits them, so as csv reads them: the one definition of a line in a block
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)?")
_HEADER_KEY_DROP = str.maketrans("", "", " \t\u00a0\ufeff_-")
_CANONICAL_BY_KEY = {name.lower(): name for name in CANONICAL_COLUMNS}
_TEMPLATE_POSITIONS = {name: index for index, name in enumerate(CANONICAL_COLUMNS)}


@dataclass(slots=True)
class FileInfo:
    """What the reader learned about a file: format, encoding, delimiter, columns present, file-level warnings."""

    format: str  # "csv" | "xlsx"
    encoding: str  # "utf-8", "utf-8-sig", "utf-16", "cp1252"; "" for xlsx
    delimiter: str
    columns: list[str]
    header_line: int = 1
    warnings: list[RowIssue] = field(default_factory=list)


# A learner row as the reader reads it: its spreadsheet line and its cells in CANONICAL_COLUMNS order.
Record = tuple[int, Sequence[str]]
# One record's cells in canonical order (None: a blank row or one without learner fields), given its line.
_ReadRecord = Callable[[int, list[str]], "Sequence[str] | None"]


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
    stream: BinaryIO, *, max_bytes: int, max_rows: int, max_cell_chars: int = 1000, cpu_seconds: float | None = None
) -> tuple[FileInfo, Iterator[tuple[int, tuple[str, ...]]]]:
    """read_rows with each row as a tuple of cells in CANONICAL_COLUMNS order: no dict per row."""
    info, sheet = read_file(
        stream, max_bytes=max_bytes, max_rows=max_rows, max_cell_chars=max_cell_chars, cpu_seconds=cpu_seconds
    )
    parts = cast(Iterator[Records], sheet.parts())  # no Lines: not asked for
    return info, sheet.bound(
        ((line, tuple(values)),) for part in parts for line, values in part.after(info.header_line)
    )


def read_file(
    stream: BinaryIO,
    *,
    max_bytes: int,
    max_rows: int,
    max_cell_chars: int = 1000,
    cpu_seconds: float | None = None,
    blocks: bool = False,
) -> tuple[FileInfo, Sheet]:
    """The file's description, its header read (FileRejected for the header's faults from this call), and its rows
    to come as a Sheet of parts: Lines, blocks of text on the CSV fast path (only if `blocks` is asked for), then
    Records, record by record.

    Lines come only for a comma-separated file with the template's columns in their places (Sheet.template), and
    only up to the first block holding a double quote (a quoted cell may hold line breaks, so from there csv reads
    record by record).
    The file may take cpu_seconds of this thread's CPU time from this call on (default: the
    VALIDATION_CPU_SECONDS setting), checked every _CPU_CHECK_EVERY rows; past it the file is TOO_SLOW.
    """
    limits = _Limits.of(max_rows, get_settings().validation_cpu_seconds if cpu_seconds is None else cpu_seconds)
    source = _CountedBytes(stream, max_bytes)
    head = source.read_at_least(max(_CHUNK, _BINARY_SNIFF))
    if not head:
        raise _empty_file()
    encoding = _sniff(head)
    text: _CsvText | None = None
    if encoding == "zip":
        info, records, close = _open_xlsx(head, source, limits)
        lines_before = 0
    else:
        info = FileInfo(format="csv", encoding=encoding, delimiter=",", columns=[])
        text = _CsvText(_whole_line_blocks(_text_chunks(head, source, _Decoder(info))))
        lines_before, records = _csv_records(text, source, info, limits)
        close = _nothing
    try:
        try:
            header = _header(records, lines_before, info, limits)
            positions = _columns(header, info)
        except csv.Error as exc:
            raise _unreadable(exc) from None
    except BaseException:
        close()
        raise
    template = positions == _TEMPLATE_POSITIONS
    read = _record_reader(positions, max_cell_chars, limits)
    by_lines = text if blocks and template and info.delimiter == "," else None
    whole = len(CANONICAL_COLUMNS) if template else -1
    return info, Sheet(template, _parts(records, by_lines, read, whole, max_cell_chars), limits, close)


@dataclass(frozen=True, slots=True)
class Lines:
    """Whole lines of a comma-separated file in the template's layout, without a double quote: the fast path's text.

    A part follows on from the line the part before it ended on (the header's for the first): whoever walks a block
    numbers its lines, so the reader spends no pass over the text counting them. Lines end as csv splits them, at
    CRLF, LF or a lone CR (_LINE); record_at reads one of them as Records would.
    """

    text: str
    _read: _ReadRecord

    def record_at(self, line: int, position: int) -> tuple[int, Sequence[str] | None]:
        """Where the line starting at `position` ends, and its cells as a Record's (None: not a learner row).

        `line` is its spreadsheet line, for the limits on blank rows.
        """
        end = _LINE.match(self.text, position).end()  # type: ignore[union-attr]  # matches at every position
        try:
            # without a double quote a line is one record, which csv reads as it would in the file
            record = next(_csv_reader((self.text[position:end],), ","), [])
        except csv.Error as exc:
            raise _unreadable(exc) from None
        return end, self._read(line, record)


@dataclass(frozen=True, slots=True)
class Records:
    """The rest of a file, record by record: from the first double quote of a file read by Lines, else all of it."""

    _records: Iterator[list[str]]
    _read: _ReadRecord
    _whole: int  # the template's width if the layout is the template's (see after), else -1 (no record's)
    _max_cell_chars: int

    def after(self, line: int) -> Iterator[Record]:
        """The learner records that follow `line` (where the part before ended), with their lines."""
        read, whole, max_cell_chars = self._read, self._whole, self._max_cell_chars
        try:
            for record in self._records:
                line += 1
                # the common record of the template's layout taken whole, as _read would, without a call or a copy:
                # a learner's row (it has a docID), as wide as the layout, no cell to cut
                if (
                    len(record) == whole
                    and (doc := record[1])
                    and not doc.isspace()
                    and len("".join(record)) <= max_cell_chars
                ):
                    yield line, record
                    continue
                values = read(line, record)
                if values is not None:
                    yield line, values
        except csv.Error as exc:
            raise _unreadable(exc) from None


class Sheet:
    """A file's rows after its header: its parts in order, and the limits of the rows made of them."""

    def __init__(
        self, template: bool, parts: Iterator[Lines | Records], limits: _Limits, close: Callable[[], None]
    ) -> None:
        self.template = template  # every template column, in the template's places (any others after them)
        self._parts = parts
        self._limits = limits
        self._close = close

    def parts(self) -> Iterator[Lines | Records]:
        """Lines (asked for, and the file allows it), then Records (at most one, the last part)."""
        return self._parts

    def bound(self, batches: Iterable[Sequence[_R]]) -> Iterator[_R]:
        """The rows made of the parts, given in batches in order, within the file's limits; the file closed after.

        EMPTY_FILE from this call if there is none. Past max_rows rows, or this file's CPU time, the iterator raises
        TOO_MANY_ROWS (after the first max_rows rows) or TOO_SLOW; both are looked at once per batch, and at least
        every _CPU_CHECK_EVERY rows.
        """
        rows = self._bounded(batches)
        sentinel = object()
        first = next(rows, sentinel)
        if first is sentinel:
            raise FileRejected(
                "EMPTY_FILE",
                "The file has a header but no learners: add one row per learner under the header and upload it again",
            )
        return chain((cast(_R, first),), rows)

    def _bounded(self, batches: Iterable[Sequence[_R]]) -> Iterator[_R]:
        limits = self._limits
        max_rows = limits.max_rows
        count = 0
        look_at = min(max_rows, _CPU_CHECK_EVERY)  # one comparison per batch serves both the row limit and the clock
        try:
            for batch in batches:
                count += len(batch)
                if count > look_at:
                    if count > max_rows:
                        yield from batch[: len(batch) - (count - max_rows)]
                        raise _too_many_rows(max_rows)
                    limits.check_time()
                    look_at = min(max_rows, count + _CPU_CHECK_EVERY)
                yield from batch
        finally:
            self._close()


@dataclass(slots=True)
class _Limits:
    """What one file may cost: learner rows, sheet rows (blank ones too), cells, and CPU time of this thread.

    time.thread_time, not process time: the local stack runs handlers in threads (Lambda in the main thread).
    """

    max_rows: int
    sheet_rows: int  # the last spreadsheet line a file may use
    max_cells: int
    seconds: float
    deadline: float
    cells: int = 0

    @classmethod
    def of(cls, max_rows: int, seconds: float) -> _Limits:
        sheet_rows = 1 + 2 * max_rows + _SPARE_ROWS
        return cls(max_rows, sheet_rows, _CELLS_PER_ROW * sheet_rows, seconds, time.thread_time() + seconds)

    def check_time(self) -> None:
        if time.thread_time() > self.deadline:
            raise FileRejected(
                "TOO_SLOW",
                f"The file took more than {self.seconds:g} seconds to read, more than a file of learners needs: "
                f"{SAVE_AS_CSV}, or split it into smaller files",
            )

    def check_line(self, line: int) -> None:
        """TOO_MANY_ROWS if a spreadsheet line (of a blank row, or a row number the file declares) is past the limit."""
        if line > self.sheet_rows:
            raise FileRejected(
                "TOO_MANY_ROWS",
                f"The file numbers its rows up to row {line:,}, past the {self.sheet_rows:,} rows a file may use "
                f"(blank rows count too): delete the empty rows below your learners (select them, right-click > "
                f"Delete) or split the file into files of at most {self.max_rows:,} learners each",
            )

    def add_cells(self, count: int) -> None:
        self.cells += count
        if self.cells > self.max_cells:
            raise FileRejected(
                "TOO_LARGE",
                f"The file holds more than {self.max_cells:,} cells: delete the columns and rows that are not "
                f"learners, or {SAVE_AS_CSV}",
            )


def _too_many_columns(line: int, columns: int) -> FileRejected:
    return FileRejected(
        "TOO_MANY_COLUMNS",
        f"Row {line:,} has {columns:,} columns or more, more than the {MAX_COLUMNS:,} a file may have: delete the "
        f"columns to the right of the template's columns (select them, right-click > Delete) and upload it again",
    )


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
        # not `yield from`: closing this generator (its reader stops at a pushed block) must not close the blocks
        for block in self._blocks:  # noqa: UP028
            yield block

    def push(self, block: str) -> None:
        self._blocks = chain((block,), self._blocks)


def _csv_records(
    text: _CsvText, source: _CountedBytes, info: FileInfo, limits: _Limits
) -> tuple[int, Iterator[list[str]]]:
    """The blank lines before the first record, and a csv reader of the records; the delimiter found on the way."""
    lines = text.lines()
    blank = 0
    for first in lines:
        if first.strip():
            break
        blank += 1
        limits.check_line(blank)
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


_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_PACKAGE_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_WORKBOOK = "xl/workbook.xml"
_WORKBOOK_RELS = "xl/_rels/workbook.xml.rels"
_CONTENT_TYPES = "[Content_Types].xml"
_OVERRIDE = "{http://schemas.openxmlformats.org/package/2006/content-types}Override"
_SHARED_STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_STYLES = "xl/styles.xml"  # where openpyxl looks for it too
_MAX_ZIP_MEMBERS = 10_000  # Excel writes a dozen parts; a thousand images would still pass
_MAX_PART_BYTES = 256 * 1024 * 1024  # what one part may unpack to (a 200,000-row sheet is about 100 MB)
_MAX_UNPACKED_BYTES = 512 * 1024 * 1024  # what all parts together may unpack to
_MAX_SMALL_PART_BYTES = 16 * 1024 * 1024  # the workbook, its relationships and its styles
_MAX_SHARED_STRINGS = 2_000_000
_MAX_SHARED_CHARS = 32 * 1024 * 1024
_XLSX_CHECK_EVERY = 64  # sheet rows (each at most MAX_COLUMNS cells) or 64 x shared strings between looks at the clock


def _open_xlsx(
    head: bytes, source: _CountedBytes, limits: _Limits
) -> tuple[FileInfo, Iterator[list[str]], Callable[[], None]]:
    """The workbook's first worksheet as records, read within limits: see _Workbook."""
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115 - closed by the row iterator
    try:
        data = head
        while data:
            spool.write(data)
            data = source.read(_CHUNK)
        _check_zip_members(spool)
        spool.seek(0)
        try:
            archive = zipfile.ZipFile(spool)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            raise _not_csv("a damaged ZIP archive") from None
        try:
            if _WORKBOOK not in archive.NameToInfo:
                raise _not_csv("a ZIP archive")
            book = _Workbook(archive, limits)
        except BaseException:
            archive.close()
            raise
    except BaseException:
        spool.close()
        raise

    def close() -> None:
        archive.close()
        spool.close()

    info = FileInfo(format="xlsx", encoding="", delimiter="", columns=[])
    return info, book.records(), close


def _check_zip_members(spool: IO[bytes]) -> None:
    """INVALID_SPREADSHEET if the ZIP's end record declares more members than a workbook has, before zipfile reads
    its central directory (a 50 MB file can declare ~600,000 members, which zipfile would hold in memory at once)."""
    spool.seek(0, io.SEEK_END)
    size = spool.tell()
    tail_size = min(size, 22 + 0xFFFF)  # the end record and its comment
    spool.seek(size - tail_size)
    tail = spool.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return  # zipfile will find it damaged
    members: int = struct.unpack_from("<H", tail, at + 10)[0]
    if members == 0xFFFF and at >= 20 and tail[at - 20 : at - 16] == b"PK\x06\x07":
        # ZIP64: the locator before the end record gives where the ZIP64 end record, with the real count, starts
        (record_at,) = struct.unpack_from("<Q", tail, at - 20 + 8)
        spool.seek(record_at)
        record = spool.read(56)
        if len(record) == 56 and record[:4] == b"PK\x06\x06":
            (members,) = struct.unpack_from("<Q", record, 32)
    if members > _MAX_ZIP_MEMBERS:
        raise _invalid_spreadsheet(f"its ZIP archive declares {members:,} parts, far more than a workbook has")


def _invalid_spreadsheet(why: str) -> FileRejected:
    return FileRejected(
        "INVALID_SPREADSHEET",
        f"This workbook cannot be read safely ({why}); Excel never writes such a file: open it in Excel and "
        f"{SAVE_AS_CSV}.",
    )


def _too_large_workbook(what: str) -> FileRejected:
    return FileRejected(
        "TOO_LARGE",
        f"The workbook {what}, more than a file of learners needs: delete what is not learners (other sheets, "
        f"images, formatting) or {SAVE_AS_CSV}",
    )


class _CountedPart:
    """One ZIP member's bytes, counted as they are unpacked: TOO_LARGE past `cap` whatever its header declared."""

    def __init__(self, stream: IO[bytes], cap: int) -> None:
        self._stream = stream
        self._cap = cap
        self.total = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size if 0 <= size <= _CHUNK else _CHUNK)
        self.total += len(data)
        if self.total > self._cap:
            raise _too_large_workbook(f"unpacks to more than {_human_size(self._cap)} in one part")
        return data


class _Workbook:
    """A workbook's first worksheet, read by hand instead of openpyxl.load_workbook, to bound every step.

    openpyxl's read-only mode reads sharedStrings.xml whole, walks every row number up to the highest one (a row
    numbered 10^12 is 10^12 empty rows) and builds a whole row before yielding it (10^6 cells at once). Here every
    member's declared size is checked before anything is unpacked, each part is parsed by defusedxml from a counted
    stream, rows and cells are checked as the parser meets them (a row number at its start tag, a cell as it ends),
    and the clock is looked at every _XLSX_CHECK_EVERY rows. A cell's value is still typed by openpyxl's own
    WorkSheetParser.parse_cell, with the workbook's date styles and epoch, so values read exactly as openpyxl reads
    them.
    """

    def __init__(self, archive: zipfile.ZipFile, limits: _Limits) -> None:
        from openpyxl.utils.datetime import CALENDAR_MAC_1904, WINDOWS_EPOCH

        self._archive = archive
        self._limits = limits
        members = archive.infolist()
        if len(members) > _MAX_ZIP_MEMBERS:
            raise _invalid_spreadsheet(f"its ZIP archive holds {len(members):,} parts, far more than a workbook has")
        largest = max(members, key=lambda member: member.file_size)
        if largest.file_size > _MAX_PART_BYTES:
            raise _too_large_workbook(f"unpacks to {_human_size(largest.file_size)} in one part")
        unpacked = sum(member.file_size for member in members)
        if unpacked > _MAX_UNPACKED_BYTES:
            raise _too_large_workbook(f"unpacks to {_human_size(unpacked)}")
        what = "a workbook that could not be opened"
        sheets, date1904 = self._sheets(what)
        relations = self._relations(what)
        sheet = next(
            (relations[rel_id][1] for rel_id in sheets if relations.get(rel_id, ("", ""))[0].endswith("/worksheet")),
            None,
        )
        if sheet is None or sheet not in archive.NameToInfo:
            raise _not_csv(what)
        self._sheet = sheet
        strings = self._shared_strings_part(relations, what)
        self._strings = self._shared_strings(strings) if strings in archive.NameToInfo else []
        self._date_styles, self._timedelta_styles = self._styles(what)
        self._epoch = CALENDAR_MAC_1904 if date1904 else WINDOWS_EPOCH

    def _events(self, name: str, cap: int, what: str, events: tuple[str, ...] = ("end",)) -> Iterator[Any]:
        """(event, element) of one part, parsed by defusedxml (no DTD, no entities) from a counted stream."""
        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import ParseError, iterparse

        try:
            with self._archive.open(name) as raw:
                yield from iterparse(_CountedPart(raw, cap), events=events, forbid_dtd=True)
        except DefusedXmlException:
            raise _invalid_spreadsheet(f"its part {name} declares a DTD or XML entities") from None
        except ParseError:
            raise _not_csv(what) from None
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError):
            raise _not_csv("a damaged ZIP archive") from None

    def _sheets(self, what: str) -> tuple[list[str], bool]:
        """The relationship ids of the workbook's sheets in order, and whether its dates count from 1904."""
        rel_ids: list[str] = []
        date1904 = False
        for _, element in self._events(_WORKBOOK, _MAX_SMALL_PART_BYTES, what):
            if element.tag == _MAIN + "sheet":
                rel_id = element.get(_REL_ID)
                if rel_id:
                    rel_ids.append(rel_id)
            elif element.tag == _MAIN + "workbookPr":
                date1904 = element.get("date1904", "").lower() in ("1", "true")
        return rel_ids, date1904

    def _relations(self, what: str) -> dict[str, tuple[str, str]]:
        """The workbook's relationships: id -> (type, the part's name in the archive)."""
        if _WORKBOOK_RELS not in self._archive.NameToInfo:
            raise _not_csv(what)
        relations: dict[str, tuple[str, str]] = {}
        for _, element in self._events(_WORKBOOK_RELS, _MAX_SMALL_PART_BYTES, what):
            if element.tag == _PACKAGE_RELS and element.get("TargetMode") != "External":
                target = element.get("Target", "")
                name = target[1:] if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
                relations[element.get("Id", "")] = (element.get("Type", ""), name)
        return relations

    def _shared_strings_part(self, relations: dict[str, tuple[str, str]], what: str) -> str | None:
        """Where the shared strings are: [Content_Types].xml says, as openpyxl reads it, else the workbook's
        relationships, else where Excel puts them."""
        if _CONTENT_TYPES in self._archive.NameToInfo:
            for _, element in self._events(_CONTENT_TYPES, _MAX_SMALL_PART_BYTES, what):
                if element.tag == _OVERRIDE and element.get("ContentType") == _SHARED_STRINGS_TYPE:
                    return element.get("PartName", "").lstrip("/")
        by_relation = (target for kind, target in relations.values() if kind.endswith("/sharedStrings"))
        return next(by_relation, "xl/sharedStrings.xml")

    def _styles(self, what: str) -> tuple[set[int], set[int]]:
        """The cell styles (indexes into cellXfs) that show dates, and those that show durations, as openpyxl does."""
        from openpyxl.styles.numbers import builtin_format_code, is_date_format, is_timedelta_format

        if _STYLES not in self._archive.NameToInfo:
            return set(), set()
        custom: dict[int, str] = {}
        formats: list[int] = []
        try:
            for _, element in self._events(_STYLES, _MAX_SMALL_PART_BYTES, what):
                if element.tag == _MAIN + "numFmt":
                    custom[int(element.get("numFmtId", "0"))] = element.get("formatCode", "")
                elif element.tag == _MAIN + "cellXfs":
                    formats = [int(xf.get("numFmtId", "0")) for xf in element]
        except ValueError:
            raise _not_csv(what) from None
        codes = [custom[number] if number in custom else builtin_format_code(number) for number in formats]
        dates = {index for index, code in enumerate(codes) if is_date_format(code)}
        return dates, {index for index, code in enumerate(codes) if is_timedelta_format(code)}

    def _shared_strings(self, name: str) -> list[str]:
        """The shared strings as openpyxl reads them, streamed with a cap on their count and their characters."""
        from openpyxl.cell.text import Text

        strings: list[str] = []
        chars = 0
        root: Element | None = None
        item = _MAIN + "si"
        for event, element in self._events(
            name, _MAX_PART_BYTES, "a workbook that could not be opened", ("start", "end")
        ):
            if event == "start":
                if root is None:
                    root = element
                continue
            if element.tag != item:
                continue
            text = Text.from_tree(element).content.replace("x005F_", "")
            chars += len(text)
            strings.append(text)
            if root is not None:
                root.clear()  # the strings read so far are kept as str, not as elements
            if len(strings) > _MAX_SHARED_STRINGS:
                raise _too_large_workbook(f"holds more than {_MAX_SHARED_STRINGS:,} different texts")
            if chars > _MAX_SHARED_CHARS:
                raise _too_large_workbook(f"holds more than {_MAX_SHARED_CHARS:,} characters of text")
            if not len(strings) % (_XLSX_CHECK_EVERY * _XLSX_CHECK_EVERY):
                self._limits.check_time()
        return strings

    def records(self) -> Iterator[list[str]]:
        """The sheet's rows, one record per spreadsheet line from line 1 ([] for a row the sheet leaves out)."""
        from openpyxl.worksheet._reader import WorkSheetParser

        parser = WorkSheetParser(
            None,
            self._strings,
            data_only=True,
            epoch=self._epoch,
            date_formats=self._date_styles,
            timedelta_formats=self._timedelta_styles,
        )
        rows = _SheetRows(parser, self._limits)
        row_tag, cell_tag, dimension_tag = _MAIN + "row", _MAIN + "c", _MAIN + "dimension"
        what = "a workbook whose first sheet could not be read"
        try:
            for event, element in self._events(self._sheet, _MAX_PART_BYTES, what, ("start", "end")):
                if event == "start":
                    rows.start(element)
                elif element.tag == cell_tag:
                    rows.cell(element)
                elif element.tag == row_tag:
                    gap, values = rows.end()
                    if values is not None:
                        for _ in range(gap):
                            yield []
                        yield values
                elif element.tag == dimension_tag:
                    rows.dimension(element)
        except FileRejected:
            raise
        except Exception:
            raise _not_csv(what) from None


class _SheetRows:
    """What the sheet's parser has met so far: each row number checked at its start tag, each cell as it ends."""

    def __init__(self, parser: Any, limits: _Limits) -> None:
        self._parser = parser
        self._limits = limits
        self._sheet_data: Element | None = None
        self._cells: list[tuple[int, object]] = []
        self._number = 0
        self._next_line = 1
        self._rows_read = 0

    def start(self, element: Element) -> None:
        if element.tag == _MAIN + "row":
            parser = self._parser
            self._number = _row_number(element.get("r"), parser.row_counter)
            self._limits.check_line(self._number)  # before a cell of it is read, let alone the rows between
            parser.row_counter, parser.col_counter = self._number, 0
            self._cells = []
        elif element.tag == _MAIN + "sheetData":
            self._sheet_data = element

    def cell(self, element: Element) -> None:
        cell = self._parser.parse_cell(element)
        cells = self._cells
        if cell["column"] > MAX_COLUMNS or len(cells) >= MAX_COLUMNS:
            raise _too_many_columns(self._number, max(cell["column"], len(cells) + 1))
        self._limits.check_line(cell["row"])
        cells.append((cell["column"], cell["value"]))

    def end(self) -> tuple[int, list[str] | None]:
        """At a row's end tag: the number of rows the sheet left out before it, and its values (None: out of order)."""
        self._limits.add_cells(len(self._cells))
        if self._sheet_data is not None:
            self._sheet_data.clear()  # the rows read so far are gone, not kept as empty elements
        self._rows_read += 1
        if not self._rows_read % _XLSX_CHECK_EVERY:
            self._limits.check_time()
        if self._number < self._next_line:
            return 0, None  # as openpyxl drops a row out of order
        gap = self._number - self._next_line
        self._next_line = self._number + 1
        return gap, _row_values(self._cells)

    def dimension(self, element: Element) -> None:
        """TOO_MANY_ROWS if the sheet's declared size passes the rows a file may use; it bounds nothing else."""
        from openpyxl.utils.cell import range_boundaries

        try:
            last_row = range_boundaries(element.get("ref", ""))[3]
        except (ValueError, TypeError):
            return
        if last_row is not None:
            self._limits.check_line(last_row)


def _row_number(declared: str | None, previous: int) -> int:
    """A row's number as openpyxl reads it: its r attribute (an integer, maybe written as a float), else the next."""
    if declared is None:
        return previous + 1
    try:
        return int(declared)
    except ValueError:
        number = float(declared)
        if not number.is_integer():
            raise
        return int(number)


def _row_values(cells: list[tuple[int, object]]) -> list[str]:
    """A row's cells by column, as wide as its last cell's column (as openpyxl's read-only rows are)."""
    if not cells:
        return []
    width = cells[-1][0]
    values = [""] * width
    for column, value in cells:
        if 1 <= column <= width:
            values[column - 1] = _cell_text(value)
    return values


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


def _parts(
    records: Iterator[list[str]], text: _CsvText | None, read: _ReadRecord, whole: int, max_cell_chars: int
) -> Iterator[Lines | Records]:
    """The file after its header: with text, by Lines up to the first block holding a double quote; then Records."""
    if text is not None:
        for block in text.blocks():
            if '"' in block:
                text.push(block)
                records = _csv_reader(text.lines(), ",")
                break
            yield Lines(block, read)
        else:
            return
    yield Records(records, read, whole, max_cell_chars)


def _unreadable(exc: csv.Error) -> FileRejected:
    return FileRejected("NOT_CSV", f"The file could not be read as CSV ({exc}): {SAVE_AS_CSV}.")


def _header(records: Iterator[list[str]], line: int, info: FileInfo, limits: _Limits) -> list[str]:
    """The first non-blank record (its line becomes info.header_line)."""
    for header in records:
        line += 1
        if len(header) > MAX_COLUMNS:
            raise _too_many_columns(line, len(header))
        if any(cell.strip() for cell in header):
            info.header_line = line
            return header
        limits.check_line(line)
        if not line % _CPU_CHECK_EVERY:
            limits.check_time()
    raise _empty_file()


def _record_reader(positions: dict[str, int], max_cell_chars: int, limits: _Limits) -> _ReadRecord:
    """How one record of the layout is read: its cells in canonical order, or None for a blank row.

    Every record the fast path does not take whole comes here, so the limits that cost nothing there are checked
    here only where a record is unusual: a blank row's line against the sheet's rows (blank rows are never counted
    as learners), an off-width record's cells against the columns and cells a file may have.
    """
    width = max(positions.values()) + 1
    # a column the file lacks reads the cell just past the widest one, which every record is padded to hold
    values_of = itemgetter(*(positions.get(name, width) for name in CANONICAL_COLUMNS))
    learner_fields_of = itemgetter(*(positions.get(name, width) for name in LEARNER_COLUMNS))
    blank_last = len(positions) < len(CANONICAL_COLUMNS)
    padded = width + 1 if blank_last else width

    def read(line: int, record: list[str]) -> Sequence[str] | None:
        if len(record) != padded or (blank_last and record[-1]):
            if not record:
                blank(line)
                return None
            if len(record) > MAX_COLUMNS:
                raise _too_many_columns(line, len(record))
            limits.add_cells(len(record))
            record = _fit(record, padded, blank_last)
        learner_fields = "".join(learner_fields_of(record))
        if not learner_fields or learner_fields.isspace():
            blank(line)
            return None
        values: tuple[str, ...] = values_of(record)
        if len("".join(values)) > max_cell_chars:
            values = tuple(TOO_LONG if len(value) > max_cell_chars else value for value in values)
        return values

    def blank(line: int) -> None:
        limits.check_line(line)
        if not line % _CPU_CHECK_EVERY:
            limits.check_time()

    return read


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
