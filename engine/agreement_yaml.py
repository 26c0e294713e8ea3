"""The agreement file as YAML: every key's and value's line, and problems in Swedish.

PyYAML composes the document into nodes, which carry line numbers; ``index`` records
the 1-based line of every value and key, so a schema problem (pydantic's ``loc``) or a
cross-check can be reported as ``FILE:LINE: message``. Implicit dates are off: a bad
date reaches the schema as text and is reported there, by line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from rules.errors import Problem

Path_ = tuple[str | int, ...]


class Loader(yaml.SafeLoader):
    """SafeLoader without implicit dates, so a bad date reaches the schema as text.

    Mapping keys stay the text that was written (``yes:`` is the key "yes", not True),
    so every key in the data matches the key in the line index.
    """

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
                problems.append((line, f"nyckeln '{key}' förekommer två gånger (första på rad {seen[key]})"))
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


def where(loc: Path_) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
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
    if kind == "extra_forbidden":
        return f"okänd nyckel '{loc[-1]}'"
    if kind == "missing":
        return f"{field}: nyckeln saknas"
    if kind == "value_error":
        text = str(err.get("ctx", {}).get("error", err["msg"]))
        if "email" in err["msg"].lower():
            return f"{field}: ogiltig e-postadress {err.get('input')!r}"
        return f"{field}: {text}"
    if kind == "string_pattern_mismatch":
        if loc and loc[-1] == "due":
            return f"{field}: ogiltig månad-dag {err.get('input')!r} (ska vara MM-DD)"
        return f"{field}: ogiltigt id {err.get('input')!r} (gemener, siffror och bindestreck)"
    if kind in ("literal_error",):
        expected = err.get("ctx", {}).get("expected", "")
        return f"{field}: ogiltigt värde {err.get('input')!r} (tillåtna: {expected})"
    if kind in ("greater_than_equal", "less_than_equal"):
        bound = err.get("ctx", {}).get("ge", err.get("ctx", {}).get("le"))
        cmp = "minst" if kind == "greater_than_equal" else "högst"
        return f"{field}: värdet {err.get('input')!r} ska vara {cmp} {bound}"
    if kind in ("int_type", "int_parsing", "float_parsing", "float_type") and loc and loc[-1] == "target":
        return f"{field}: målvärdet {err.get('input')!r} är inte ett tal"
    sv = _PYDANTIC_SV.get(kind)
    if sv:
        return f"{field}: {sv}" + (f" ({err.get('input')!r})" if kind.endswith(("type", "parsing")) else "")
    return f"{field}: {err['msg']}"


def yaml_problem(exc: yaml.YAMLError, filename: str) -> Problem:
    problem = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context_mark", None)
    # An unclosed bracket or quote is noticed lines later; the context mark is where it opened.
    mark = context or problem
    line = mark.line + 1 if mark else 1
    reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = getattr(exc, "context", None)
    return Problem(file=filename, line=line, message=f"ogiltig YAML: {reason}" + (f" ({where})" if where else ""))


def text_line(path: Path, offset: int) -> int:
    return path.read_bytes()[:offset].count(b"\n") + 1
