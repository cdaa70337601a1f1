"""The line map behind every error message, checked against YAML that PyYAML itself writes."""

from __future__ import annotations

from pathlib import Path

import pytest
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


MERGES = {
    "override after the merge": ("a: &a {x: 1, y: 2}\nb: {<<: *a, x: 3}\n", {"x": 3, "y": 2}),
    "override before the merge": ("a: &a {x: 1, y: 2}\nb: {x: 3, <<: *a}\n", {"x": 3, "y": 2}),
    "the first of a merged list wins": ("a: &a {x: 1}\nc: &b {x: 2, z: 0}\nb: {<<: [*a, *b], y: 3}\n",
                                        {"x": 1, "z": 0, "y": 3}),
    "block style": ("base: &base\n  tier: pro\n  region: us-east-1\nb:\n  <<: *base\n  region: eu-west-1\n",
                    {"tier": "pro", "region": "eu-west-1"}),
}


@pytest.mark.parametrize(("text", "b"), MERGES.values(), ids=MERGES.keys())
def test_merge_keys_load_as_pyyaml_loads_them(text: str, b: dict[str, object]) -> None:
    """A key written beside a merge key `<<` overrides the merged one (YAML's merge type): it is not a
    duplicate key. This was refused, so a catalogue could not share a tenant's fields by anchor and merge."""
    docs, issues = load_documents(Path("mem.yaml"), text=text)
    assert issues == []
    assert docs[0].data == yaml.safe_load(text) and docs[0].data["b"] == b


def test_a_merged_mapping_that_merges_is_merged_as_it_reads() -> None:
    """`b` is `{x: 2}` wherever it is merged or aliased, also when it was expanded as part of another merge
    first. (PyYAML's own loader reads `c.x` of the first as 1: it merges `b`'s pairs again, the overridden
    one included, after expanding `b` once already.)"""
    docs, issues = load_documents(Path("mem.yaml"), text="a: &a {x: 1}\nb: &b {<<: *a, x: 2}\nc: {<<: *b, y: 3}\n"
                                                         "d: *b\n")
    assert issues == [] and docs[0].data == {"a": {"x": 1}, "b": {"x": 2}, "c": {"x": 2, "y": 3}, "d": {"x": 2}}
    docs, issues = load_documents(Path("mem.yaml"), text="c:\n  <<: &b {<<: &a {x: 1}, x: 2}\n  y: 3\nd: *b\ne: *a\n")
    assert issues == [] and docs[0].data == {"c": {"x": 2, "y": 3}, "d": {"x": 2}, "e": {"x": 1}}


def test_an_overriding_key_is_located_at_its_own_line() -> None:
    docs, _ = load_documents(Path("mem.yaml"), text="base: &base\n  region: us-east-1\nt:\n  <<: *base\n  region: x\n")
    assert docs[0].lines[("t", "region")] == 5


def test_a_key_written_twice_beside_a_merge_is_still_a_duplicate() -> None:
    _, issues = load_documents(Path("mem.yaml"), text="a: &a {x: 1}\nb:\n  <<: *a\n  y: 2\n  y: 3\n")
    assert [(i.line, i.field, i.message) for i in issues] == [(5, "b.y", "duplicate key")]
