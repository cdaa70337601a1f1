"""Label values reach PromQL only through the escaping in `tenantops.observe.promql`."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenantops.observe.promql import escape_label_value, escape_regex, label_matchers, one_of, quote

# Valid UTF-8 text: no lone surrogates (they cannot be sent at all).
text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)


@pytest.mark.parametrize(
    ("raw", "literal"),
    [
        ("acme", '"acme"'),
        ('a"b', r'"a\"b"'),
        ("a\\b", r'"a\\b"'),
        ("line\nbreak", r'"line\nbreak"'),
        ("tab\tcr\r", r'"tab\tcr\r"'),
        ("x\x00y\x1f\x7f", r'"x\u0000y\u001f\u007f"'),
        ('"} or vector(1) or {x="', r'"\"} or vector(1) or {x=\""'),
        ("{braces}", '"{braces}"'),
        ("ünïcødé ✓", '"ünïcødé ✓"'),
    ],
)
def test_quote_escapes_what_would_end_or_bend_the_literal(raw: str, literal: str) -> None:
    assert quote(raw) == literal


def test_lone_surrogate_is_refused() -> None:
    with pytest.raises(ValueError, match="surrogate"):
        escape_label_value("a\ud800b")


@given(text)
def test_quoted_literal_decodes_back_to_the_original(value: str) -> None:
    # PromQL string escapes are Go's; the subset produced here is also JSON's, so JSON is an exact oracle.
    assert json.loads(quote(value)) == value


@given(text)
def test_quoted_literal_has_no_unescaped_quote_or_raw_newline(value: str) -> None:
    body = escape_label_value(value)
    assert "\n" not in body and "\r" not in body
    assert re.search(r'(?<!\\)(\\\\)*"', body) is None


@given(text)
def test_escaped_regex_matches_exactly_the_value(value: str) -> None:
    pattern = re.compile(escape_regex(value), re.DOTALL)
    assert pattern.fullmatch(value)
    assert not pattern.fullmatch(value + "x")


def test_matchers_and_alternatives() -> None:
    assert label_matchers({"tenant": "a\"b", "workload": "api"}) == r'{tenant="a\"b",workload="api"}'
    assert one_of("tenant", ["b.c", "a|d", "b.c"]) == r'tenant=~"a\\|d|b\\.c"'
    with pytest.raises(ValueError):
        label_matchers({"bad-name": "x"})
    with pytest.raises(ValueError):
        one_of("tenant", [])


@pytest.mark.integration
def test_real_prometheus_reads_escaped_values_back_verbatim(prometheus) -> None:
    server = prometheus()
    tricky = ["plain", 'quo"te', "back\\slash", "new\nline", "{br}ace}", "uni✓", 'end\\"', "tab\t", "a.b|c*"]
    union = " or ".join(f'label_replace(vector({i}), "v", {quote(v)}, "", "")' for i, v in enumerate(tricky))
    result = server.query(union)
    assert sorted(r["metric"]["v"] for r in result) == sorted(tricky)
    # A regex alternative built with escape_regex selects exactly the chosen values, metacharacters and all.
    chosen = ["a.b|c*", 'quo"te', "new\nline"]
    pattern = quote("|".join(escape_regex(v) for v in chosen))
    picked = server.query(f'label_replace(({union}), "keep", "1", "v", {pattern})')
    assert {r["metric"]["v"] for r in picked if r["metric"].get("keep") == "1"} == set(chosen)
    # Equality matching on an escaped value finds the one series carrying it.
    assert server.query(f"({union}) and on (v) label_replace(vector(1), \"v\", {quote(chosen[0])}, \"\", \"\")")[0][
        "metric"]["v"] == chosen[0]
