"""The line map behind every error message, checked against YAML that PyYAML itself writes."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantops.config.yamlpos import load_documents

keys = st.text(alphabet="abcdefghij", min_size=1, max_size=6)
scalars = st.one_of(st.integers(-5, 5), st.booleans(), st.text(alphabet="xyz", max_size=4))
trees = st.recursive(
    scalars,
    lambda children: st.dictionaries(keys, children, min_size=1, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(keys, trees, min_size=1, max_size=5))
@settings(max_examples=60, deadline=None)
def test_data_and_lines_match_pyyaml(data: dict[str, object]) -> None:
    text = yaml.safe_dump(data, default_flow_style=False, sort_keys=False)
    docs, issues = load_documents(Path("mem.yaml"), text=text)
    assert not issues
    assert docs[0].data == yaml.safe_load(text)
    lines = text.splitlines()

    def walk(node: object, path: tuple[str, ...], indent: int) -> None:
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            line = docs[0].lines[(*path, key)]
            assert lines[line - 1].startswith(" " * indent + f"{key}:") or lines[line - 1].startswith(
                " " * indent + f"'{key}':"
            )
            walk(value, (*path, key), indent + 2)

    walk(data, (), 0)
