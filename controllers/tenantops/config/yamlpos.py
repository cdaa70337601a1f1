"""YAML parsing that remembers the line of every key and list item.

PyYAML's plain loaders drop positions, and pydantic reports errors by path; this module keeps a
path -> line map beside the data so an error at `tenants[3].workloads[0].min_replicas` can say
`catalog.yaml:41`. It also rejects duplicate keys, which plain YAML loading silently lets the last win.

Anchors and aliases are expanded as they are met, so two shapes of them are refused at their line
instead of taking the process down: an alias inside its own anchor (a loop, which recursed until
Python gave up) and aliases of aliases that multiply (nine levels of nine-fold aliases are 387 million
values from a few hundred bytes, which a reload would have tried to build in memory). An expansion
may build at most `len(text) + ALIAS_ALLOWANCE` values; a document without aliases never comes near.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tenantops.config.errors import ConfigIssue

PathKey = tuple[str | int, ...]


@dataclass
class LocatedDocument:
    """One YAML document with the line (1-based) of every mapping key and sequence item in it."""

    file: str
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)
    start_line: int = 1

    def line_of(self, path: Sequence[str | int]) -> int:
        """Line of `path`, or of its nearest ancestor that exists (a missing field points at its parent)."""
        key: PathKey = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.start_line


# libyaml's parser is ~20x faster than the pure-Python one on large catalogues, and keeps node marks.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
ALIAS_ALLOWANCE = 100_000  # values an expansion may build beyond one per character of the file


class _TooLarge(Exception):
    """The values built from one file's aliases passed its allowance."""


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, doc: LocatedDocument, issues: list[ConfigIssue],
                 budget: list[int]) -> None:
        self.loader = loader
        self.doc = doc
        self.issues = issues
        self.budget = budget  # values left to build in this file, shared by its documents
        self._open: set[int] = set()  # collections being built: meeting one again is an alias loop
        self._merged: dict[int, int] = {}  # mappings flattened: how many of their leading pairs were merged in

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.budget[0] -= 1
        if self.budget[0] < 0:
            raise _TooLarge(node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if id(node) in self._open:
                self.issues.append(ConfigIssue(self.doc.file, node.start_mark.line + 1, _dotted(path),
                                               "an alias refers to the value it is part of (a loop)"))
                return None
            self._open.add(id(node))
            try:
                return self._collection(node, path)
            finally:
                self._open.discard(id(node))
        if node.tag == _STR:
            return node.value  # the common case, without the constructor's bookkeeping
        return self.loader.construct_object(node, deep=True)

    def _flatten(self, node: yaml.MappingNode) -> None:
        """Expand merge keys (`<<`) as PyYAML does, in place: the merged pairs first (of a merged list, the
        first mapping last, so that it wins), then the mapping's own. How many pairs were merged is kept, so
        that a key of the mapping's own overrides a merged one, as the merge type says, instead of being
        taken for a duplicate key. The count is kept for every mapping flattened here, a merged one too: a
        mapping is flattened once, and an alias of it met later must still know which of its pairs were
        merged."""
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        own: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE:
                own.append((key_node, value_node))
                continue
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            parts = []
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"expected a mapping or list of mappings for merging, but found {source.id}",
                        source.start_mark)
                if any(k.tag == _MERGE for k, _ in source.value):
                    self._flatten(source)
                parts.append(source.value)
            for part in reversed(parts):
                merged.extend(part)
        node.value = merged + own
        self._merged[id(node)] = len(merged)

    def _collection(self, node: yaml.MappingNode | yaml.SequenceNode, path: PathKey) -> Any:
        if isinstance(node, yaml.MappingNode) and any(k.tag == _MERGE for k, _ in node.value):
            self._flatten(node)
        self.budget[0] -= len(node.value)  # its items, the plain strings among them included
        if self.budget[0] < 0:
            raise _TooLarge(node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            lines = self.doc.lines
            merged = self._merged.get(id(node), 0)
            own: set[Any] = set()
            for index, (key_node, value_node) in enumerate(node.value):
                key = key_node.value if key_node.tag == _STR else self.loader.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                if not isinstance(key, str | int | float | bool) or key is None:
                    self.issues.append(ConfigIssue(self.doc.file, line, _dotted(path), "keys must be scalars"))
                    continue
                if index >= merged:  # one of the mapping's own keys: it may override a merged key, not its own
                    if key in (own if merged else out):
                        self.issues.append(
                            ConfigIssue(self.doc.file, line, _dotted((*path, str(key))), "duplicate key")
                        )
                        continue
                    if merged:
                        own.add(key)
                child: PathKey = (*path, str(key))
                lines[child] = line
                if value_node.tag == _STR and isinstance(value_node, yaml.ScalarNode):
                    out[key] = value_node.value
                else:
                    out[key] = self.build(value_node, child)
            return out
        items = []
        for index, item in enumerate(node.value):
            child = (*path, index)
            self.doc.lines[child] = item.start_mark.line + 1
            items.append(self.build(item, child))
        return items


def _dotted(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<document>"


dotted_path = _dotted

_PART = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def path_of_dotted(text: str) -> tuple[str | int, ...]:
    """`dotted_path`'s inverse: `alerts.snooze[0].cause` -> ("alerts", "snooze", 0, "cause")."""
    return tuple(int(index) if index else key for index, key in _PART.findall(text))


def load_documents(path: Path, text: str | None = None) -> tuple[list[LocatedDocument], list[ConfigIssue]]:
    """Parse every document in a YAML file; bad YAML becomes an issue at its line, never an exception."""
    name = str(path)
    issues: list[ConfigIssue] = []
    try:
        source = path.read_text(encoding="utf-8") if text is None else text
    except (OSError, UnicodeDecodeError) as exc:
        return [], [ConfigIssue(name, 0, "<file>", f"cannot read: {exc}")]
    loader = _Loader(source)
    docs: list[LocatedDocument] = []
    budget = [len(source) + ALIAS_ALLOWANCE]
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            doc = LocatedDocument(name, None, start_line=node.start_mark.line + 1)
            doc.data = _Builder(loader, doc, issues, budget).build(node, ())
            docs.append(doc)
    except _TooLarge as exc:
        issues.append(ConfigIssue(name, int(exc.args[0]), "<yaml>",
                                  f"aliases expand to more than {len(source) + ALIAS_ALLOWANCE} values; "
                                  "write the values out or use fewer levels of aliases"))
        docs = []
    except RecursionError:
        issues.append(ConfigIssue(name, 0, "<yaml>", "nested too deeply (or a merge key `<<` merges a mapping "
                                  "into itself)"))
        docs = []
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        issues.append(ConfigIssue(name, line, "<yaml>", f"invalid YAML: {exc.problem or exc.context}"))
    except yaml.YAMLError as exc:
        issues.append(ConfigIssue(name, 0, "<yaml>", f"invalid YAML: {exc}"))
    finally:
        loader.dispose()
    return docs, issues
