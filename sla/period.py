"""Calendar months (UTC) and the parts of one that count: the month up to "now", minus maintenance."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


def month(text: str) -> Span:
    """`2026-11` -> [2026-11-01T00:00Z, 2026-12-01T00:00Z)."""
    found = re.fullmatch(r"(\d{4})-(\d{2})", text)
    if not found or not 1 <= int(found.group(2)) <= 12:
        raise ValueError(f"period {text!r} is not a month like 2026-11")
    year, number = int(found.group(1)), int(found.group(2))
    start = datetime(year, number, 1, tzinfo=timezone.utc)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=timezone.utc)
    return Span(start, end)


def counted(period: Span, now: datetime, excluded: Iterable[Span]) -> tuple[Span, ...]:
    """The period up to `now`, cut into the spans outside every excluded span (whole seconds)."""
    end = min(period.end, now.replace(microsecond=0))
    spans = [Span(period.start, end)] if end > period.start else []
    for cut in sorted(excluded, key=lambda span: span.start):
        kept = []
        for span in spans:
            if cut.end <= span.start or cut.start >= span.end:
                kept.append(span)
                continue
            if cut.start > span.start:
                kept.append(Span(span.start, cut.start))
            if cut.end < span.end:
                kept.append(Span(cut.end, span.end))
        spans = kept
    return tuple(span for span in spans if span.seconds > 0)


def overlap_seconds(span: Span, others: Iterable[Span]) -> float:
    return sum(max(timedelta(0), min(span.end, o.end) - max(span.start, o.start)).total_seconds() for o in others)
