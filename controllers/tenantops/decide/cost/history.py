"""Per-tenant spend history kept in the cost decider's state, compact and bounded.

Three state keys per tenant (or pseudo-tenant bucket `__idle__` / `__shared__`), split by how often they
change so the store rewrites little each pass:

- `c/<tenant>` (every pass): the hour being accumulated, today's closed hours, the seconds of today that
  were charged, month-to-date by component and the forecast model fitted at the last day boundary.
    {"h": <epoch hour>, "hv": <micro>, "dv": <micro>, "ds": <seconds>, "m": "YYYY-MM",
     "mtd": {component: micro}, "fm": {...}}
- `h/<tenant>` (once an hour): closed hours, `{"h0": <epoch hour of v[0]>, "v": [micro | null, ...]}`,
  the last `HOURS_KEPT` hours.
- `d/<tenant>` (once a day): closed UTC days, `{"d0": <date ordinal of v[0]>, "v": [micro | null, ...],
  "p": {"<date ordinal>": <seconds charged>}}`, the last `DAYS_KEPT` days; `p` lists only the days the
  controller saw part of (the day a tenant was added or the controller first ran, an outage longer than
  `max_pass_gap_seconds`).

`null` marks a period the controller did not observe (it was down): unknown is not zero, so anomaly
detection and forecasts skip it. A day seen only in part is money spent (totals and reports count it as it
is) but not a day's spend: `day_rates` scales it to a whole day, or leaves it out when less than half of
it was seen, for the forecast and the anomaly baselines. Amounts are micro-dollars (see `money`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tenantops.decide.cost.money import split_exact

HOURS_KEPT = 15 * 24  # two weeks of same-hour baselines plus the day being judged
DAYS_KEPT = 400  # a year and a month: month-over-month and year-over-year views
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY_SECONDS = 86400.0
_WHOLE_DAY = DAY_SECONDS - 1.0  # seconds are summed in floats; a day charged pass after pass is whole


def hour_index(at: datetime) -> int:
    """Whole hours since the Unix epoch (UTC)."""
    return int((at - EPOCH).total_seconds() // 3600)


def hour_start(index: int) -> datetime:
    return EPOCH + timedelta(hours=index)


def day_of_hour(index: int) -> int:
    """Date ordinal of the UTC day an epoch hour falls in."""
    return hour_start(index).date().toordinal()


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


@functools.lru_cache(maxsize=256)
def _month_of_hour(hour: int) -> str:
    return month_key(date.fromordinal(day_of_hour(hour)))


def _bounded_push(start: int, values: list[int | None], at: int, value: int, keep: int) -> tuple[int, list[int | None]]:
    """Append `value` at index `at` (padding gaps with None) and drop what is older than `keep` entries."""
    if not values:
        start, values = at, []
    elif at < start + len(values):  # a period closed twice (clock went back): add to it
        pos = at - start
        if pos >= 0:
            values[pos] = (values[pos] or 0) + value
        return start, values
    values.extend([None] * (at - start - len(values)))
    values.append(value)
    if len(values) > keep:
        drop = len(values) - keep
        values = values[drop:]
        start += drop
    return start, values


@dataclass
class TenantSeries:
    """A tenant's accumulating spend; `from_state` / `to_state` convert to and from the three keys."""

    tenant: str
    hour0: int = 0
    hours: list[int | None] = field(default_factory=list)
    day0: int = 0
    days: list[int | None] = field(default_factory=list)
    cur_hour: int | None = None
    cur_value: int = 0
    today_closed: int = 0
    today_seconds: float | None = None  # charged seconds of the open day; None: not known (older state)
    partial: dict[int, float] = field(default_factory=dict)  # closed days seen in part: ordinal -> seconds
    month: str = ""
    mtd: dict[str, int] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    hours_changed: bool = False
    days_changed: bool = False

    @staticmethod
    def keys(tenant: str) -> tuple[str, str, str]:
        return f"c/{tenant}", f"h/{tenant}", f"d/{tenant}"

    @classmethod
    def from_state(cls, tenant: str, state: Mapping[str, Any]) -> TenantSeries:
        ck, hk, dk = cls.keys(tenant)
        cur, hrs, dys = state.get(ck) or {}, state.get(hk) or {}, state.get(dk) or {}
        return cls(
            tenant,
            hour0=int(hrs.get("h0", 0)), hours=list(hrs.get("v", [])),
            day0=int(dys.get("d0", 0)), days=list(dys.get("v", [])),
            cur_hour=cur.get("h"), cur_value=int(cur.get("hv", 0)), today_closed=int(cur.get("dv", 0)),
            today_seconds=float(cur["ds"]) if cur.get("ds") is not None else None,
            partial={int(k): float(v) for k, v in (dys.get("p") or {}).items()},
            month=str(cur.get("m", "")), mtd={k: int(v) for k, v in (cur.get("mtd") or {}).items()},
            model=dict(cur.get("fm") or {}),
        )

    def to_state(self) -> dict[str, Any]:
        """The keys that changed: `c/` always, `h/` and `d/` only when a period closed."""
        ck, hk, dk = self.keys(self.tenant)
        out: dict[str, Any] = {ck: {"h": self.cur_hour, "hv": self.cur_value, "dv": self.today_closed,
                                    "ds": self.today_seconds, "m": self.month, "mtd": dict(self.mtd),
                                    "fm": self.model}}
        if self.hours_changed:
            out[hk] = {"h0": self.hour0, "v": list(self.hours)}
        if self.days_changed:
            out[dk] = {"d0": self.day0, "v": list(self.days),
                       "p": {str(d): s for d, s in sorted(self.partial.items()) if d >= self.day0}}
        return out

    # -- accumulation -------------------------------------------------------------------------------

    def advance(self, hour: int) -> tuple[list[int], list[int]]:
        """Move the accumulator to epoch hour `hour`, closing the hours and days passed.

        Returns the epoch hours and the date ordinals that closed, so the caller can judge them.
        """
        closed_hours: list[int] = []
        closed_days: list[int] = []
        if self.cur_hour is None:
            self.cur_hour, self.today_seconds = hour, 0.0
            return closed_hours, closed_days
        if hour <= self.cur_hour:
            return closed_hours, closed_days
        done = self.cur_hour
        self.hour0, self.hours = _bounded_push(self.hour0, self.hours, done, self.cur_value, HOURS_KEPT)
        self.hours_changed = True
        closed_hours.append(done)
        self.today_closed += self.cur_value
        if day_of_hour(hour) != day_of_hour(done):
            closing = day_of_hour(done)
            fresh = closing >= self.day0 + len(self.days) or not self.days
            self.day0, self.days = _bounded_push(self.day0, self.days, closing, self.today_closed, DAYS_KEPT)
            if fresh and self.today_seconds is not None and self.today_seconds < _WHOLE_DAY:
                self.partial[closing] = round(self.today_seconds, 3)
            self.partial = {d: seen for d, seen in self.partial.items() if d >= self.day0}
            self.days_changed = True
            closed_days.append(closing)
            self.today_closed, self.today_seconds = 0, 0.0
        self.cur_hour, self.cur_value = hour, 0
        return closed_hours, closed_days

    def add(self, start: datetime, end: datetime, components: Mapping[str, int],
            segments: list[tuple[int, float]] | None = None) -> tuple[list[int], list[int]]:
        """Charge `components` (micro-dollars) spent evenly over [start, end) to the hours it covers.

        `segments` (from `hour_segments(start, end)`) may be passed in when many tenants share an interval.
        """
        if segments is None:
            segments = hour_segments(start, end)
        weights = [seconds for _, seconds in segments]
        split = {name: split_exact(amount, weights) if len(segments) > 1 else [amount]
                 for name, amount in components.items()}
        closed_h: list[int] = []
        closed_d: list[int] = []
        for i, (hour, seconds) in enumerate(segments):
            ch, cd = self.advance(hour)
            closed_h += ch
            closed_d += cd
            if self.today_seconds is not None:
                self.today_seconds += seconds
            month = _month_of_hour(hour)
            if month != self.month:
                self.month, self.mtd = month, {}
            for name, parts in split.items():
                self.cur_value += parts[i]
                self.mtd[name] = self.mtd.get(name, 0) + parts[i]
        return closed_h, closed_d

    # -- reading ------------------------------------------------------------------------------------

    def hour_value(self, hour: int) -> int | None:
        pos = hour - self.hour0
        return self.hours[pos] if 0 <= pos < len(self.hours) else None

    def day_value(self, ordinal: int) -> int | None:
        pos = ordinal - self.day0
        return self.days[pos] if 0 <= pos < len(self.days) else None

    def day_rates(self) -> list[int | None]:
        """Closed days as a whole day's spend (parallel to `days`): a day seen in part is scaled to the
        whole day, or unknown when less than half of it was seen.

        The forecast's run rate and the anomaly baselines read days as days of spend; the first day of a
        tenant added at 15:00 is 9 hours of it, and taken as a day it pulled the month-end forecast down
        by a fifth (so a budget alert came days late) and made the baseline look noisy."""
        out: list[int | None] = []
        for i, value in enumerate(self.days):
            seen = self.partial.get(self.day0 + i)
            if value is None or seen is None:
                out.append(value)
            else:
                out.append(round(value * DAY_SECONDS / seen) if seen >= DAY_SECONDS / 2 else None)
        return out

    @property
    def today(self) -> int:
        """Spend of the current (open) day so far: its closed hours plus the open hour."""
        return self.today_closed + self.cur_value

    @property
    def month_to_date(self) -> int:
        return sum(self.mtd.values())

    def month_to_date_at(self, now: datetime) -> int:
        """Spend in `now`'s month so far.

        A pass at exactly midnight of the 1st charges the interval before it, which belongs to the old
        month, so the accumulator still holds the previous month's total: that is nothing spent yet in
        `now`'s month, not a month-to-date to project the new month from.
        """
        return self.month_to_date if self.month == month_key(now.date()) else 0

    def today_at(self, now: datetime) -> int:
        """Spend of `now`'s day so far (0 while the open hour still belongs to the day before)."""
        return self.today if self.cur_hour is not None and hour_start(self.cur_hour).date() == now.date() else 0


def hour_segments(start: datetime, end: datetime) -> list[tuple[int, float]]:
    """(epoch hour, seconds) pieces of [start, end); a zero-length interval is one empty piece at `end`."""
    if end <= start:
        return [(hour_index(end), 0.0)]
    out = []
    cursor = start
    while cursor < end:
        idx = hour_index(cursor)
        boundary = min(end, hour_start(idx + 1))
        out.append((idx, (boundary - cursor).total_seconds()))
        cursor = boundary
    return out
