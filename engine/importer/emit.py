"""The draft as agreement-file YAML with its comments at their lines (ruamel.yaml).

PyYAML, which reads the file, cannot write comments; ruamel.yaml writes a comment at the
end of a given key's line, which is where ``# KONTROLLERA:`` and ``# TODO`` must stand for
the owner going through the draft. What is written is read back by PyYAML (YAML 1.1), so a
text that PyYAML would take for something else ("ja", "2016", "08:00") is quoted.
"""

from __future__ import annotations

import io
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from engine.importer.notes import Path

_RESOLVER: Any = yaml.resolver.Resolver()  # types-PyYAML leaves resolve() untyped
_STR = "tag:yaml.org,2002:str"
QUOTED = frozenset({"send_time", "due"})


def _scalar(value: Any, key: str | int | None) -> Any:
    if isinstance(value, str) and (key in QUOTED or _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) != _STR):
        return DoubleQuotedScalarString(value)
    return value


def _commented(value: Any, key: str | int | None = None) -> Any:
    if isinstance(value, dict):
        out = CommentedMap()
        for k, v in value.items():
            out[k] = _commented(v, k)
        return out
    if isinstance(value, list):
        seq = CommentedSeq(_commented(v) for v in value)
        if not value or all(isinstance(v, int | str) for v in value):
            seq.fa.set_flow_style()
        return seq
    return _scalar(value, key)


def _attach(root: CommentedMap, path: Path, text: str) -> bool:
    """``text`` at the line of ``path``'s last key (or the nearest key above it that exists)."""
    for end in range(len(path), 0, -1):
        node: Any = root
        try:
            for step in path[: end - 1]:
                node = node[step]
        except (KeyError, IndexError, TypeError):
            continue
        key = path[end - 1]
        if isinstance(node, CommentedMap) and key in node:
            node.yaml_add_eol_comment(f"# {text}", key)
            return True
        if isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
            item = node[key]
            if isinstance(item, CommentedMap) and item:
                item.yaml_add_eol_comment(f"# {text}", next(iter(item)))
                return True
    return False


def dump(document: dict[str, Any], comments: dict[Path, str], header: list[str]) -> str:
    root = _commented(document)
    lost = [text for path, text in comments.items() if not _attach(root, path, text)]
    root.yaml_set_start_comment("\n".join([*header, *lost]))
    writer = YAML()
    writer.width = 100
    writer.indent(mapping=2, sequence=4, offset=2)
    writer.allow_unicode = True
    out = io.StringIO()
    writer.dump(root, out)
    # ruamel leaves the space it folds a long plain text at on the end of the line; YAML's
    # folding drops it on reading, so it only clutters the file (no block scalars are written)
    return "".join(line.rstrip() + "\n" for line in out.getvalue().splitlines())
