"""The agreement file as YAML: read safely, every key's and value's line, problems in Swedish.

``read_text`` reads only a regular file under ``FILE_MAX``. PyYAML composes the document
into nodes, which carry line numbers; anchors and aliases are refused as the composer
meets them, before any node is built (an alias bomb of a few hundred bytes otherwise
expands to billions of values). ``index`` records the 1-based line of every value and
key, so a schema problem (pydantic's ``loc``) or a cross-check can be reported as
``FILE:LINE: message``. Implicit dates are off: a bad date reaches the schema as text
and is reported there, by line. The settings file is read the same way
(notifications.settings).
"""

from __future__ import annotations

import errno
import os
import re
import reprlib
import stat
from pathlib import Path
from typing import Any

import yaml

from rules.errors import AgreementFileError, Problem

Path_ = tuple[str | int, ...]

# An agreement file is a few tens of kB; the web upload has the same cap (web.http.UPLOAD_MAX).
FILE_MAX = 1024 * 1024
# How much of a key or value a message quotes: enough to recognise it, too little to copy a file out.
QUOTE_MAX = 40

ANCHOR = "ankare (&) och alias (*) används inte i överenskommelsefiler; skriv ut värdet"


def read_text(path: str | Path) -> str:
    """The file's text: a regular file (after symlinks) of at most FILE_MAX bytes, in UTF-8.

    Raises AgreementFileError with one line; at most FILE_MAX + 1 bytes are read, so a
    link to /dev/zero or a huge file costs nothing.
    """
    name = str(path)

    def refused(message: str, line: int = 0) -> AgreementFileError:
        return AgreementFileError([Problem(file=name, line=line, message=message)])

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise refused("filen finns inte") from None
    except PermissionError:
        raise refused("filen får inte läsas (behörighet saknas)") from None
    except OSError as exc:
        raise refused(f"kan inte öppnas ({_errno_name(exc)})") from None
    try:
        # fstat on the opened file: what was checked is what is read, whatever a link points at.
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise refused("är inte en vanlig fil")
        chunks: list[bytes] = []
        size = 0
        while size <= FILE_MAX:
            chunk = os.read(fd, FILE_MAX + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise refused(f"kan inte läsas ({_errno_name(exc)})") from None
    finally:
        os.close(fd)
    if size > FILE_MAX:
        raise refused(f"filen är större än {FILE_MAX // (1024 * 1024)} MiB")
    return decode(b"".join(chunks), name)


def decode(data: bytes, name: str) -> str:
    """UTF-8 text, or AgreementFileError naming the line and the first byte that is not."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        message = f"filen är inte UTF-8 (byte 0x{data[exc.start]:02X} i kolumn {column}); spara den som UTF-8"
        raise AgreementFileError([Problem(file=name, line=line, message=message)]) from None


def _errno_name(exc: OSError) -> str:
    # strerror is the C library's English; the symbolic name is stable and searchable.
    return errno.errorcode.get(exc.errno or 0, "okänt fel")


_QUOTE = reprlib.Repr()
_QUOTE.maxstring = _QUOTE.maxother = QUOTE_MAX
_QUOTE.maxlist = _QUOTE.maxdict = 4
_QUOTE.maxlevel = 2


def quote(value: object) -> str:
    """A short, escaped quotation of a key or value from a file: control characters shown, not sent.

    Text is cut to QUOTE_MAX characters before ``repr`` escapes it, so a terminal never
    receives an escape sequence from the file and a long line is never echoed whole.
    """
    if isinstance(value, str):
        return repr(value[:QUOTE_MAX]) + ("…" if len(value) > QUOTE_MAX else "")
    text = _QUOTE.repr(value)
    return text if len(text) <= QUOTE_MAX + 2 else text[:QUOTE_MAX] + "…"


class Loader(yaml.SafeLoader):
    """SafeLoader without implicit dates and without anchors or aliases.

    Mapping keys stay the text that was written (``yes:`` is the key "yes", not True),
    so every key in the data matches the key in the line index. An anchor or an alias is
    refused when the composer meets its event, before the node is composed: the files
    need neither, and a document of nodes that are each composed once stays as small as
    the file (no alias bomb, no alias that contains itself).
    """

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(None, None, ANCHOR, event.start_mark)
        node: yaml.Node | None = super().compose_node(parent, index)
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        # An explicit tag (!!int abc, !!timestamp 2020-02-30) makes PyYAML's constructors raise
        # plain Python errors; give them the node's position like every other YAML error.
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"värdet kan inte läsas ({type(exc).__name__}: {exc})", node.start_mark
            ) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, yaml.MappingNode):  # !!map x, !!set [1]
            raise yaml.constructor.ConstructorError(None, None, "här väntades en mappning", node.start_mark)
        self.flatten_mapping(node)
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    None, None, "en nyckel måste vara text, inte en lista eller mappning", key_node.start_mark
                )
            mapping[key_node.value] = self.construct_object(value_node, deep=deep)
        return mapping


Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(text: str, filename: str) -> tuple[Any, dict[Path_, int], list[Problem]]:
    """The document as plain data (None when empty), the line of every path, and its duplicate keys.

    Raises AgreementFileError for text over FILE_MAX and for anything that is not YAML;
    the duplicate keys are returned to be reported beside the schema's problems.
    """
    if len(text) > FILE_MAX or len(text.encode("utf-8", "surrogatepass")) > FILE_MAX:
        raise AgreementFileError(
            [Problem(file=filename, line=0, message=f"filen är större än {FILE_MAX // (1024 * 1024)} MiB")]
        )
    try:
        return _load(text, filename)
    except RecursionError:
        # Thousands of nested brackets: PyYAML's composer and our index are recursive.
        raise AgreementFileError([Problem(file=filename, line=1, message="ogiltig YAML: för djupt nästlad")]) from None


def _load(text: str, filename: str) -> tuple[Any, dict[Path_, int], list[Problem]]:
    try:
        node = yaml.compose(text, Loader=Loader)
    except yaml.YAMLError as exc:
        raise AgreementFileError([yaml_problem(exc, filename, text)]) from None
    if node is None:
        return None, {}, []
    lines: dict[Path_, int] = {}
    dup: list[tuple[int, str]] = []
    index(node, (), lines, dup)
    problems = [Problem(file=filename, line=line, message=message) for line, message in dup]
    try:
        data = Loader("").construct_document(node)
    except yaml.YAMLError as exc:
        raise AgreementFileError([*problems, yaml_problem(exc, filename, text)]) from None
    return data, lines, problems


def index(node: yaml.Node, path: Path_, lines: dict[Path_, int], problems: list[tuple[int, str]]) -> None:
    """Record the 1-based line of every value (and every key, under path + ('<key>',))."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue  # reported when the document is constructed
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append((line, f"nyckeln {quote(key)} förekommer två gånger (första på rad {seen[key]})"))
            seen[key] = line
            lines[(*path, key, "<key>")] = line
            index(value_node, (*path, key), lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            index(item, (*path, i), lines, problems)


def line_for(lines: dict[Path_, int], loc: Path_, *, key: bool = False) -> int:
    if key and (*loc, "<key>") in lines:
        return lines[(*loc, "<key>")]
    if key and loc and (*loc[:-1], "<key>") in lines:
        # A missing key: point at the mapping's own key ("agreement:"), not its first child.
        return lines[(*loc[:-1], "<key>")]
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return 1


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_<>-]{1,40}")


def where(loc: Path_) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":  # pydantic's mark of a mapping key; the key itself is the part before
            out += "[nyckel]"
        elif not _PLAIN_KEY.fullmatch(part):
            out += f"[{quote(part)}]"  # a key from the file, escaped and cut like any value
        else:
            out += f".{part}" if out else part
    return out or "dokumentet"


_PYDANTIC_SV = {
    "missing": "nyckeln saknas",
    "extra_forbidden": "okänd nyckel",
    "date_from_datetime_parsing": "ogiltigt datum (ska vara ÅÅÅÅ-MM-DD)",
    "date_parsing": "ogiltigt datum (ska vara ÅÅÅÅ-MM-DD)",
    "date_type": "ska vara ett datum ÅÅÅÅ-MM-DD",
    "value_error": "",
    "string_pattern_mismatch": "ogiltigt värde",
    "int_type": "ska vara ett heltal",
    "int_parsing": "ska vara ett heltal",
    "float_parsing": "ska vara ett tal",
    "float_type": "ska vara ett tal",
    "string_type": "ska vara text",
    "bool_type": "ska vara true eller false",
    "bool_parsing": "ska vara true eller false",
    "list_type": "ska vara en lista",
    "dict_type": "ska vara en mappning (nyckel: värde)",
    "model_type": "ska vara en mappning (nyckel: värde)",
    "literal_error": "ogiltigt värde",
    "too_short": "får inte vara tom",
    "string_too_short": "får inte vara tom",
    "greater_than_equal": "är för litet",
    "less_than_equal": "är för stort",
}


def message(err: Any) -> str:
    kind = err["type"]
    loc: Path_ = tuple(err["loc"])
    field = where(loc)
    given = quote(err.get("input"))
    if kind == "extra_forbidden":
        return f"okänd nyckel {quote(loc[-1])}"
    if kind == "missing":
        return f"{field}: nyckeln saknas"
    if kind == "value_error":
        text = str(err.get("ctx", {}).get("error", err["msg"]))
        if "email" in err["msg"].lower():
            return f"{field}: ogiltig e-postadress {given}"
        return f"{field}: {text}"
    if kind == "string_pattern_mismatch":
        if loc and loc[-1] == "due":
            return f"{field}: ogiltig månad-dag {given} (ska vara MM-DD)"
        return f"{field}: ogiltigt id {given} (gemener, siffror och bindestreck)"
    if kind in ("literal_error",):
        expected = err.get("ctx", {}).get("expected", "")
        return f"{field}: ogiltigt värde {given} (tillåtna: {expected})"
    if kind in ("greater_than_equal", "less_than_equal"):
        bound = err.get("ctx", {}).get("ge", err.get("ctx", {}).get("le"))
        cmp = "minst" if kind == "greater_than_equal" else "högst"
        return f"{field}: värdet {given} ska vara {cmp} {bound}"
    if kind in ("int_type", "int_parsing", "float_parsing", "float_type") and loc and loc[-1] == "target":
        return f"{field}: målvärdet {given} är inte ett tal"
    sv = _PYDANTIC_SV.get(kind)
    if sv:
        return f"{field}: {sv}" + (f" ({given})" if kind.endswith(("type", "parsing")) else "")
    # pydantic's own message is English and may quote the value whole.
    return f"{field}: ogiltigt värde {given}"


def yaml_problem(exc: yaml.YAMLError, filename: str, text: str = "") -> Problem:
    """A YAML error as one Swedish line on the line where the problem is.

    PyYAML's ``problem_mark`` is where it noticed the problem; its ``context_mark`` the
    block or bracket it was reading (an indentation error is noticed on its own line,
    inside a block opened lines earlier). An unclosed quote or bracket is the exception:
    it is noticed at the end of the file or lines later, so it is reported where it opens.
    """
    if isinstance(exc, yaml.reader.ReaderError):
        # Control characters (NUL, ESC, …) are refused by PyYAML's reader, which knows no line.
        line = text[: exc.position].count("\n") + 1
        return Problem(
            file=filename,
            line=line,
            message=f"ogiltig YAML: otillåtet tecken U+{exc.character:04X} (styrtecken får inte stå i filen)"
            if isinstance(exc.character, int)
            else "ogiltig YAML: otillåtet tecken",
        )
    problem = str(getattr(exc, "problem", None) or "")
    context = str(getattr(exc, "context", None) or "")
    problem_mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    message, at_opening = _swedish(problem, context)
    mark = (context_mark or problem_mark) if at_opening else (problem_mark or context_mark)
    line = mark.line + 1 if mark is not None else 1
    if not at_opening and (opened := _unclosed_quote(text, line)) is not None:
        start, end = opened
        return Problem(
            file=filename,
            line=start,
            message=f"ogiltig YAML: citattecknet som öppnas här avslutas först på rad {end}; saknas ett citattecken?",
        )
    return Problem(file=filename, line=line, message=f"ogiltig YAML: {message}")


def _unclosed_quote(text: str, line: int) -> tuple[int, int] | None:
    """The lines of a quoted value that spans lines and ends at or just before ``line``, if any.

    A quote left open closes at the next quote in the file, lines later, and the error
    is noticed there; a value in quotes over several lines is rare in these files, so
    one just before the error is taken to be the open quote.
    """
    last: tuple[int, int] | None = None
    try:
        for token in yaml.scan(text, Loader=Loader):
            if token.start_mark.line + 1 > line:
                break
            if isinstance(token, yaml.ScalarToken) and token.style in ('"', "'"):
                start, end = token.start_mark.line + 1, token.end_mark.line + 1
                last = (start, end) if end > start else None
    except yaml.YAMLError:
        pass  # the scan stops where the parse did
    if last is not None and line - last[1] <= 1:
        return last
    return None


_INDENT = "fel indrag: raden ligger inte i linje med raderna ovanför (indrag med mellanslag, lika många på samma nivå)"
_GENERIC = "kan inte läsas här (kontrollera indrag, kolon och citattecken)"


def _swedish(problem: str, context: str) -> tuple[str, bool]:
    """PyYAML's problem in Swedish, and whether it is reported where its quote or bracket opens."""
    if not problem.isascii() or problem == ANCHOR:
        return problem, False  # already ours (ANCHOR, the constructor's "värdet kan inte läsas", …)
    if "'\\t'" in problem or "\t" in problem:
        return "tabbtecken får inte användas för indrag eller mellan nyckel och värde; använd mellanslag", False
    if found := re.fullmatch(r"found character '(.*)' that cannot start any token", problem):
        return f"tecknet {found[1]} kan inte inleda ett värde; sätt värdet inom citattecken", False
    if problem == "mapping values are not allowed here":
        return "kolon på fel ställe: raden är fel indragen, eller ett värde med ': ' behöver citattecken", False
    if "quoted scalar" in context:
        if "end of stream" in problem or "document" in problem:
            return "citattecknet som öppnas här avslutas aldrig", True
        if found := re.fullmatch(r"found unknown escape character '(.*)'", problem):
            return f"okänd escape-sekvens \\{found[1]} inom citattecken (skriv \\\\ för ett snedstreck)", False
        return "ogiltig escape-sekvens inom citattecken", False
    if "simple key" in context:
        return "raden saknar kolon efter nyckeln (nyckel: värde)", True
    if "block scalar" in context:
        return "ogiltigt textblock (| eller >): kontrollera indraget", False
    if "anchor" in context or "alias" in context:
        return ANCHOR, False
    if problem.startswith("expected <block end>"):
        return _INDENT, False
    if problem == "did not find expected key":
        return "fel indrag: här väntades en nyckel (nyckel: värde) i linje med raderna ovanför", False
    if problem == "did not find expected '-' indicator":
        return "fel indrag: här väntades ett listelement (- …) i linje med raderna ovanför", False
    if problem.startswith("expected ',' or ']'"):
        return "listan [ … ] som öppnas här avslutas inte med ] (eller saknar ett kommatecken)", True
    if problem.startswith("expected ',' or '}'"):
        return "mappningen { … } som öppnas här avslutas inte med } (eller saknar ett kommatecken)", True
    if problem.startswith("expected '<document start>'"):
        return "oväntat innehåll efter dokumentet: " + _INDENT.removeprefix("fel indrag: "), False
    if problem.startswith("expected a single document"):
        return "filen får bara innehålla ett dokument (ta bort ---)", False
    if problem.startswith("expected the node content"):
        return "här väntades ett värde", False
    if found := re.search(r"could not determine a constructor for the tag '(.*)'", problem):
        return f"okänd tagg {quote(found[1])}", False
    if "merging" in problem or "merge" in problem:
        return "sammanfogning med << används inte i överenskommelsefiler", False
    return _GENERIC, False


class Dumper(yaml.SafeDumper):
    """SafeDumper for an agreement file that ``Loader`` reads back value for value.

    No anchors or aliases (``Loader`` refuses them; a list used twice is written twice),
    and the same implicit types as ``Loader``: without the timestamp resolver a date
    ("2015-12-14") is written bare, and it is still text when read back.
    """

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_text(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    # The format asks for a time ("08:00") and a month-day ("03-31") in quotes: a reader who
    # copies one into another file, or another YAML reader (1:30 is a number to YAML 1.1),
    # gets text.
    style = '"' if re.fullmatch(r"[0-9]{1,2}[:-][0-9]{2}", data) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


Dumper.add_representer(str, _represent_text)
Dumper.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeDumper.yaml_implicit_resolvers.items()
}


def _present(value: Any) -> Any:
    # An absent optional key is stored as null; in a file it is left out (its default is null).
    if isinstance(value, dict):
        return {k: _present(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_present(v) for v in value]
    return value


def dump(document: dict[str, Any], *, header: str = "") -> str:
    """A stored plan document as agreement-file YAML, in the document's key order.

    Å, ä and ö are written as they are; ``header`` (one or more lines) becomes comments at the top.
    """
    text = yaml.dump(
        _present(document), Dumper=Dumper, allow_unicode=True, sort_keys=False, default_flow_style=False, width=100
    )
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comments + text
