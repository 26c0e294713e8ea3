"""A signed agreement document read into a neutral structure: headings, paragraphs and tables.

Sans I/O: every reader takes the document's bytes (or text) and returns a ``Document``;
nothing here opens a file. Each block and cell remembers where it came from (``where``:
"rad 43" in a text export, "tabell 2, rad 3, kolumn 2" in a Word file), so the draft's
summary can point at the source of every guess.

Three inputs: a Word file (python-docx reads its paragraphs, heading styles and tables),
a plain-text export such as the Borås seed (tab-separated table rows, some of them HTML
``<p>`` fragments, and rows cut in two by a page break), and an OpenDocument file, which
is refused with one line: its only Python reader (odfpy) has had no release since 2020.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser

import docx
from docx.document import Document as DocxDocument
from docx.oxml.ns import qn
from docx.table import Table as DocxTable
from docx.text.paragraph import Paragraph as DocxParagraph

from engine.importer.errors import DocumentError

# A document is a few hundred kB; anything far beyond is not an agreement (and a zip bomb is
# stopped before it is inflated: see _docx).
DOCUMENT_MAX = 10 * 1024 * 1024
_UNPACKED_MAX = 50 * 1024 * 1024
NUMBERED = re.compile(r"^(\d{1,2})\s*[.)]\s+(\S.*)$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
_RULE = re.compile(r"^[\s\-–—=_|:+]*$")  # a table rule line: "-----\t---\t---"


@dataclass(frozen=True, kw_only=True)
class Cell:
    paragraphs: tuple[str, ...]
    where: str

    @property
    def text(self) -> str:
        return " ".join(p for p in self.paragraphs if p)


@dataclass(frozen=True, kw_only=True)
class Heading:
    text: str
    where: str
    number: int | None = None  # "2. En trygg stad för alla" → 2


@dataclass(frozen=True, kw_only=True)
class Paragraph:
    text: str
    where: str


@dataclass(kw_only=True)
class Table:
    where: str
    header: list[Cell]
    rows: list[list[Cell]] = field(default_factory=list)
    # (row index, the source line that was read as its continuation after a page break)
    joined: list[tuple[int, str]] = field(default_factory=list)


Block = Heading | Paragraph | Table


@dataclass(frozen=True, kw_only=True)
class Document:
    name: str
    blocks: tuple[Block, ...]


def clean(text: str) -> str:
    """One line of text: control characters out, runs of whitespace as one space."""
    return " ".join(_CONTROL.sub(" ", text).split())


def read(data: bytes, name: str) -> Document:
    """The document in ``data`` (its file name ``name`` is only for messages and the format's hint)."""
    if len(data) > DOCUMENT_MAX:
        raise DocumentError(name, f"filen är större än {DOCUMENT_MAX // (1024 * 1024)} MB")
    if not data.strip():
        raise DocumentError(name, "filen är tom")
    if data.startswith(b"PK\x03\x04"):
        return _zipped(data, name)
    if name.lower().endswith((".docx", ".odt")):
        raise DocumentError(name, "är inget Word-dokument (filen går inte att öppna som ett sådant)")
    return read_text(_decode(data, name), name)


def _decode(data: bytes, name: str) -> str:
    if b"\x00" in data[:4096]:
        raise DocumentError(name, "är inget dokument som går att läsa (varken .docx eller text)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # An export from an older Word on Windows; its bytes 0x80–0x9f are letters and quotes, the
    # control characters a binary file would hold are refused.
    text = data.decode("cp1252", errors="replace")
    if sum(1 for ch in text if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\t\r\n\f")) > len(text) // 100:
        raise DocumentError(name, "är inget dokument som går att läsa (varken .docx eller text)")
    return text


def _zipped(data: bytes, name: str) -> Document:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = set(archive.namelist())
        unpacked = sum(info.file_size for info in archive.infolist())
        mimetype = archive.read("mimetype")[:100] if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError, NotImplementedError):
        raise DocumentError(name, "är inget Word-dokument (zip-filen är trasig)") from None
    if mimetype.startswith(b"application/vnd.oasis.opendocument"):
        raise DocumentError(name, "OpenDocument (.odt) stöds inte – spara dokumentet som Word (.docx) och försök igen")
    if "word/document.xml" not in names:
        raise DocumentError(name, "är inget Word-dokument (.docx)")
    if unpacked > _UNPACKED_MAX:
        raise DocumentError(name, "Word-dokumentet är för stort uppackat")
    return read_docx(data, name)


# -- Word ------------------------------------------------------------------------------------


def read_docx(data: bytes, name: str) -> Document:
    try:
        document = docx.Document(io.BytesIO(data))
        return Document(name=name, blocks=tuple(_docx_blocks(document)))
    except DocumentError:
        raise
    except Exception:  # python-docx raises KeyError, lxml errors, ValueError … on a broken file
        raise DocumentError(name, "Word-dokumentet går inte att läsa (det kan vara skadat)") from None


def _docx_blocks(document: DocxDocument) -> list[Block]:
    blocks: list[Block] = []
    paragraphs = tables = 0
    for element in document.element.body.iterchildren():
        if element.tag == qn("w:p"):
            paragraphs += 1
            paragraph = DocxParagraph(element, document)
            text = clean(paragraph.text)
            if not text:
                continue
            where = f"stycke {paragraphs}"
            style = (paragraph.style.name or "") if paragraph.style is not None else ""
            numbered = NUMBERED.match(text)
            if style.lower().startswith(("heading", "rubrik", "title")) or (numbered and len(text) < 120):
                blocks.append(_heading(text, where))
            else:
                blocks.append(Paragraph(text=text, where=where))
        elif element.tag == qn("w:tbl"):
            tables += 1
            blocks.append(_docx_table(DocxTable(element, document), tables))
    return blocks


def _docx_table(table: DocxTable, number: int) -> Table:
    rows: list[list[Cell]] = []
    for r, row in enumerate(table.rows, start=1):
        cells: list[Cell] = []
        seen: list[object] = []
        for cell in row.cells:
            if any(cell._tc is s for s in seen):  # a merged cell repeats across the columns it spans
                continue
            seen.append(cell._tc)
            paragraphs = tuple(t for t in (clean(p.text) for p in cell.paragraphs) if t)
            cells.append(Cell(paragraphs=paragraphs, where=f"tabell {number}, rad {r}, kolumn {len(cells) + 1}"))
        rows.append(cells)
    where = f"tabell {number}"
    # A table may open with a title row spanning it ("Åtagandeplan") above the header row.
    at = next((i for i, row in enumerate(rows[:3]) if is_plan_header([c.text for c in row])), 0)
    if not rows:
        return Table(where=where, header=[])
    return Table(where=where, header=rows[at], rows=rows[at + 1 :])


# -- plain text ------------------------------------------------------------------------------


class _Paragraphs(HTMLParser):
    """A cell's text as its paragraphs: each ``<p>`` (or ``<br>``, ``<li>``) starts a new one."""

    BREAKS = frozenset({"p", "br", "li", "div", "tr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[list[str]] = [[]]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BREAKS:
            self.parts.append([])

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BREAKS:
            self.parts.append([])

    def handle_data(self, data: str) -> None:
        self.parts[-1].append(data)


def cell_paragraphs(raw: str) -> tuple[str, ...]:
    if "<" not in raw and "&" not in raw:
        text = clean(raw)
        return (text,) if text else ()
    parser = _Paragraphs()
    parser.feed(raw)
    parser.close()
    return tuple(t for t in (clean("".join(part)) for part in parser.parts) if t)


def is_plan_header(cells: list[str]) -> bool:
    """A header row of an action plan: it names the municipality's or the police's commitment."""
    low = [c.lower() for c in cells]
    return any("kommun" in c and "åtagande" in c for c in low) or any("polis" in c and "åtagande" in c for c in low)


def read_text(text: str, name: str) -> Document:
    """A text export: lines with a tab are table rows (under a header row naming the parties'
    commitments), a numbered short line is a heading, any other line a paragraph."""
    blocks: list[Block] = []
    table: Table | None = None
    tables = 0
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"rad {number}"
        if "\t" not in line:
            stripped = clean(line)
            if not stripped or (table is not None and _RULE.match(line)):
                continue
            table = None
            numbered = NUMBERED.match(stripped)
            short = numbered is not None and len(stripped) < 120
            blocks.append(_heading(stripped, where) if short else Paragraph(text=stripped, where=where))
            continue
        raw = line.split("\t")
        if _RULE.match(line):
            continue
        texts = [clean(c) for c in raw]
        if is_plan_header(texts):
            tables += 1
            header = [Cell(paragraphs=(t,) if t else (), where=f"{where}, kolumn {i + 1}") for i, t in enumerate(texts)]
            table = Table(where=f"tabell {tables} ({where})", header=header)
            blocks.append(table)
            continue
        cells = [Cell(paragraphs=cell_paragraphs(c), where=f"{where}, kolumn {i + 1}") for i, c in enumerate(raw)]
        if not any(c.paragraphs for c in cells):
            continue
        if table is None:  # tab-separated lines outside an action plan: text
            blocks.append(Paragraph(text=" ".join(c.text for c in cells if c.text), where=where))
            continue
        if table.rows and _continues(cells):
            table.rows[-1] = _join(table.rows[-1], cells)
            table.joined.append((len(table.rows) - 1, where))
        else:
            table.rows.append(cells)
    return Document(name=name, blocks=tuple(blocks))


def _heading(text: str, where: str) -> Heading:
    numbered = NUMBERED.match(text)
    if numbered:
        return Heading(text=clean(numbered.group(2)), where=where, number=int(numbered.group(1)))
    return Heading(text=text, where=where)


def _continues(cells: list[Cell]) -> bool:
    """A row cut by a page break goes on in the next: its first cell is empty, or starts in lower case."""
    first = cells[0].text if cells else ""
    return not first or first[0].islower()


def _join(before: list[Cell], after: list[Cell]) -> list[Cell]:
    joined: list[Cell] = []
    for i in range(max(len(before), len(after))):
        a = before[i] if i < len(before) else None
        b = after[i] if i < len(after) else None
        if a is None or not a.paragraphs:
            joined.append(b or Cell(paragraphs=(), where=a.where if a else ""))
            continue
        if b is None or not b.paragraphs:
            joined.append(a)
            continue
        last, first = a.paragraphs[-1], b.paragraphs[0]
        # "samverkans-" + "överenskommelsen" is one word hyphenated at the line's end; "bil-" + "och" is not
        hyphenated = last.endswith("-") and not last.endswith(" -") and first[:1].islower()
        glued = last[:-1] + first if hyphenated and first.split(" ", 1)[0] not in ("och", "eller", "samt") else None
        middle = (glued,) if glued is not None else (f"{last} {first}",)
        joined.append(Cell(paragraphs=(*a.paragraphs[:-1], *middle, *b.paragraphs[1:]), where=a.where))
    return joined
