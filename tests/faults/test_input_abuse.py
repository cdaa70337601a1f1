"""Hostile input: label values with quotes, braces and newlines (PromQL escaping, round trip through a real
Prometheus), tenant names with HTML (report escaping), fuzzed trace CSV and fuzzed CLI flag values.

Each case either works exactly or is refused with exit code 2 / a `ConfigError` naming file, line and
field; never a traceback, never an injected query or markup.
"""

from __future__ import annotations

import html
import random
import re
import time
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import markupsafe
import pytest
import yaml

from tenantops.config import ConfigError, load_config
from tenantops.decide.cost.decider import refit
from tenantops.decide.cost.history import TenantSeries
from tenantops.decide.cost.ledger import Ledger
from tenantops.decide.cost.money import to_micro
from tenantops.notify.report.build import build_report_data
from tenantops.notify.report.message import render_report
from tenantops.observe.promql import label_matchers, one_of, quote
from tenantops.record.store import StateStore
from tenantops.sim.trace import load_trace
from tenantops_lab.sandbox.prometheus import Series

from .conftest import FaultLedger
from .helpers import REPO

HOSTILE_LABELS = [
    'a"b', "a\\b", "a\\", '"', "a\nb", "a}b", "{", "a{b}c", "x\"}) or vector(1) or (y{z=\"", "a'b", "a`b",
    "a\rb", "a\tb", "a\x01b", "a|b", ".*", "a.b", "a+b", "(a)", "[ab]", "^a$", "a\\nb", "é中文", "🙂", " ", "a\\\"b",
    "=~", "a,b=c", "\\u0041", "${x}",
]
PROMQL = "metric labels with quotes, braces, newlines"
HTML = "tenant names with HTML"
TRACE = "trace CSV fuzzed"
FLAGS = "CLI flags fuzzed"


def test_promql_label_round_trip_against_real_prometheus(prometheus, fault_ledger: FaultLedger) -> None:
    now = float(int(time.time()))
    series = [Series("fuzz_metric", {"v": value, "i": str(i)}, [(now - 60, float(i)), (now, float(i))])
              for i, value in enumerate(HOSTILE_LABELS)]
    server = prometheus(series=series)
    failures = []
    for i, value in enumerate(HOSTILE_LABELS):
        exact = server.query(f"fuzz_metric{label_matchers({'v': value})}", at=now)
        got = [(r["metric"].get("v"), r["metric"].get("i")) for r in exact]
        held = got == [(value, str(i))]
        if not fault_ledger.case(PROMQL, held, f"= {value!r}: {got}"):
            failures.append((value, got))
        regex = server.query(f"fuzz_metric{{{one_of('v', [value])}}}", at=now)
        got = [(r["metric"].get("v"), r["metric"].get("i")) for r in regex]
        held = got == [(value, str(i))]
        if not fault_ledger.case(PROMQL, held, f"=~ {value!r}: {got}"):
            failures.append((value, got))
    # a set of alternatives selects exactly its members
    rng = random.Random(5)
    for _ in range(10):
        chosen = rng.sample(HOSTILE_LABELS, 4)
        found = {r["metric"]["v"] for r in server.query(f"fuzz_metric{{{one_of('v', chosen)}}}", at=now)}
        if not fault_ledger.case(PROMQL, found == set(chosen), f"one_of {chosen!r}: {sorted(found)}"):
            failures.append((chosen, found))
    assert not failures, failures[:5]


def test_lone_surrogates_are_refused_not_sent() -> None:
    with pytest.raises(ValueError, match="surrogate"):
        quote("a\udc80b")


HTML_NAMES = [
    '<script>alert("x")</script>', "<img src=x onerror=alert(1)>", '"><svg onload=alert(1)>', "a & b <c>",
    "</td></tr></table><h1>pwned</h1>", "<!-- comment -->", "' onmouseover='x", "<style>*{display:none}</style>",
    '=HYPERLINK("http://evil")', "<a href=\"javascript:alert(1)\">x</a>", "&lt;already&gt;", "{{ 7*7 }}",
    "{% raw %}x{% endraw %}",
]


def _ledger_state(tenants: list[str], now: datetime) -> dict[str, object]:
    state: dict[str, object] = {}
    first = (now - timedelta(days=14)).date()
    for tid in tenants:
        series = TenantSeries(tid)
        for i in range(14):
            d = datetime.combine(first + timedelta(days=i), datetime.min.time(), UTC)
            series.add(d, d + timedelta(days=1), {"cpu": to_micro(10.0 + i)})
            refit(series)
        series.add(now, now, {"cpu": 0})
        refit(series)
        state.update(series.to_state())
    return state


class _Markup(HTMLParser):
    """Collects what a browser would execute or load: script/svg tags, on* handlers, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.active: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "svg", "iframe", "object"):
            self.active.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.active.append(f"<{tag} {name}={value!r}>")


def _active_markup(page: str) -> list[str]:
    parser = _Markup()
    parser.feed(page)
    return parser.active


def test_tenant_names_with_html_are_escaped_in_the_report(tmp_path: Path, fault_ledger: FaultLedger) -> None:
    now = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
    ids = [f"t{i}" for i in range(len(HTML_NAMES))]
    tenants = [{"id": tid, "name": name, "tier": "pro", "isolation": "pool", "region": "us-east-1",
                "budget_usd_month": 100, "contacts": [f"ops@{tid}.example"],
                "workloads": [{"name": "api", "min_replicas": 1, "max_replicas": 4}]}
               for tid, name in zip(ids, HTML_NAMES, strict=True)]
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(yaml.safe_dump({"tenants": tenants}), encoding="utf-8")
    config = load_config(catalog, REPO / "policies")
    data = build_report_data(config, Ledger(_ledger_state(ids, now)), now)
    page = render_report(data, charts=False).html()
    failures = []
    for name in HTML_NAMES:
        raw_present = "<" in name and name in page
        escaped_present = any(e in page for e in (str(markupsafe.escape(name)), html.escape(name, quote=False),
                                                  html.escape(name)))
        held = not raw_present and escaped_present
        if not fault_ledger.case(HTML, held, f"{name!r}: raw={raw_present} escaped={escaped_present}"):
            failures.append(name)
    injected = _active_markup(page)
    assert fault_ledger.case(HTML, not injected, f"active markup in the page: {injected}")
    assert not failures, failures


TRACE_JUNK = ["", ",", ",,", "nan", "inf", "-inf", "-1", "1e400", "abc", "\x00", "é", '"', '"a,b"',
              "2026-13-45T00:00:00Z",
              "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "2026-01-01T00:00:00+25:00",
              "  ", "\t", "1,2,3", "timestamp,value", "2026-01-01", "1e-300", "0x10", "+5", "٣"]


def _trace_text(rng: random.Random) -> str:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    lines = ["timestamp,value"] + [
        f"{(start + timedelta(minutes=i)).isoformat().replace('+00:00', 'Z')},{rng.uniform(0, 100):.3f}"
        for i in range(60)]
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(lines))
        op = rng.randrange(5)
        if op == 0:
            ts, _, _ = lines[i].partition(",")
            lines[i] = f"{ts},{rng.choice(TRACE_JUNK)}"
        elif op == 1:
            _, _, v = lines[i].partition(",")
            lines[i] = f"{rng.choice(TRACE_JUNK)},{v}"
        elif op == 2:
            lines.insert(i, rng.choice(TRACE_JUNK))
        elif op == 3:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
    return "\n".join(lines) + "\n"


def test_fuzzed_trace_csv_loads_or_names_file_line_field(tmp_path: Path, fault_ledger: FaultLedger) -> None:
    rng = random.Random(1123)
    failures = []
    for case in range(300):
        path = tmp_path / f"trace-{case}.csv"
        path.write_bytes(_trace_text(rng).encode("utf-8", "surrogatepass"))
        try:
            trace = load_trace(path)
            held = len(trace.demand) > 0 and bool((trace.demand >= 0).all()) and len(trace.demand) < 10_000_000
            detail = f"loaded {len(trace.demand)} steps"
        except ConfigError as exc:
            bad = [i for i in exc.issues if i.file != str(path) or i.line < 0 or not i.field or not i.message]
            held, detail = not bad, f"rejected: {exc.issues[0]}"
        except Exception as exc:  # what this case exists to catch
            held, detail = False, f"crashed: {type(exc).__name__}: {exc}"
        if not fault_ledger.case(TRACE, held, f"case {case}: {detail}"):
            failures.append((case, detail, path.read_text(errors="replace")[:200]))
    assert not failures, failures[:3]


@pytest.mark.parametrize("last", ["9999-12-31T00:00:00Z", "2100-01-01T00:00:00Z", "2026-01-01T00:00:00.000001Z"])
def test_trace_timestamps_far_apart_are_refused_not_allocated(last: str, tmp_path: Path,
                                                               fault_ledger: FaultLedger) -> None:
    """One typo in a year must not make resampling allocate billions of steps."""
    path = tmp_path / "far.csv"
    path.write_text(f"timestamp,value\n2026-01-01T00:00:00Z,1\n{last},2\n", encoding="utf-8")
    try:
        trace = load_trace(path)
        held, detail = len(trace.demand) < 2_000_000, f"loaded {len(trace.demand)} steps"
    except ConfigError as exc:
        held, detail = exc.issues[0].line == 3 and exc.issues[0].field == "timestamp", str(exc.issues[0])
    except Exception as exc:
        held, detail = False, f"crashed: {type(exc).__name__}"
    assert fault_ledger.case(TRACE, held, f"last row {last}: {detail}")


def _run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from tenantops.cli.main import main

    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code) if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out + out.err


def test_fuzzed_trace_through_simulate_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               fault_ledger: FaultLedger) -> None:
    rng = random.Random(99)
    failures = []
    tried = 0
    while tried < 15:
        text = _trace_text(rng)
        path = tmp_path / f"bad-{tried}.csv"
        path.write_text(text, encoding="utf-8")
        try:
            load_trace(path)
            continue  # only the rejected ones are of interest here
        except ConfigError:
            pass
        tried += 1
        code, output = _run_cli(["simulate", "--trace", str(path), "--policies", str(REPO / "policies")], capsys)
        held = code == 2 and "Traceback" not in output and re.search(rf"{re.escape(str(path))}:\d+: ", output)
        if not fault_ledger.case(TRACE, bool(held), f"simulate exit {code}: {output[-200:]}"):
            failures.append((code, output[-400:]))
    assert not failures, failures[:3]


BAD_VALUES = ["", "-1", "0", "abc", "1e999", "nan", "-inf", "99999999999999999999", "/", "\x7f", "7x", "2026-99-99",
              "--", "' OR 1=1 --", "1/0", "0/0", "3/2", "-1/2", "a/b", "10000000000000000000000d", "P1D", "1d2h",
              "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "-5d", "0d", "0w"]
FLAG_CASES: list[tuple[list[str], str]] = [
    (["audit"], "--since"), (["audit"], "--limit"), (["cost"], "--window"), (["report"], "--period"),
    (["report"], "--at"), (["rightsize"], "--at"), (["simulate", "--trace", "{trace}"], "--capacity"),
    (["simulate", "--trace", "{trace}"], "--jobs"), (["simulate", "--trace", "{trace}"], "--policy"),
    (["run", "--dry-run", "--catalog", "{missing}"], "--shard"),
    (["run", "--dry-run", "--catalog", "{missing}"], "--http-port"),
    (["run", "--dry-run", "--leader-elect", "--catalog", "{missing}"], "--shards"),
    (["reconcile", "--once", "--dry-run"], "--decider"),
]


def test_fuzzed_cli_flag_values_exit_2_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      fault_ledger: FaultLedger) -> None:
    """Every value is tried on every flag; a value the command accepts is skipped (the `run` cases point at
    a missing catalogue, so an accepted value ends there instead of starting the loop)."""
    from .helpers import write_config

    catalog, policies = write_config(tmp_path)
    missing = str(tmp_path / "missing-catalog.yaml")
    monkeypatch.setenv("TENANTOPS_CATALOG", str(catalog))
    monkeypatch.setenv("TENANTOPS_POLICIES", str(policies))
    monkeypatch.setenv("TENANTOPS_STATE", str(tmp_path / "state.db"))
    monkeypatch.setenv("TENANTOPS_PROMETHEUS_URL", "http://127.0.0.1:9")
    StateStore(tmp_path / "state.db").close()
    trace = tmp_path / "ok.csv"
    trace.write_text("timestamp,value\n2026-01-01T00:00:00Z,1\n2026-01-01T00:01:00Z,2\n", encoding="utf-8")
    failures = []
    for prefix, flag in FLAG_CASES:
        for value in BAD_VALUES:
            argv = [a.replace("{trace}", str(trace)).replace("{missing}", missing) for a in prefix] + [flag, value]
            code, output = _run_cli(argv, capsys)
            # Accepted values end at the missing catalogue, or (rightsize) at the closed Prometheus port.
            if code == 0 or missing in output or "error: TENANTOPS_PROMETHEUS_URL=" in output:
                continue  # a value that happens to be valid: not a bad value
            held = code == 2 and "Traceback" not in output and flag in output and len(output) < 4000
            if not fault_ledger.case(FLAGS, held, f"{' '.join(argv)!r}: exit {code}: {output[-200:]!r}"):
                failures.append((argv, code, output[-300:]))
    assert not failures, [(' '.join(a), c, o[-160:]) for a, c, o in failures]


def test_report_at_far_future_or_past_is_not_a_crash(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     fault_ledger: FaultLedger) -> None:
    from .helpers import write_config

    catalog, policies = write_config(tmp_path)
    for at in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-02-29", "2024-02-29T12:00:00+14:00"):
        code, output = _run_cli(["report", "--catalog", str(catalog), "--policies", str(policies), "--state",
                                 str(tmp_path / "s.db"), "--at", at, "--output", str(tmp_path / "out")], capsys)
        held = code in (0, 2) and "Traceback" not in output
        assert fault_ledger.case(FLAGS, held, f"report --at {at}: exit {code}: {output[-200:]!r}")
