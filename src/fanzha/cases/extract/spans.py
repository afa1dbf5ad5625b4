"""Claimed character ranges, so that one stretch of text yields at most one entity.

Extractors run in priority order (URLs, times, ID numbers, phones and accounts, amounts); each later
extractor skips candidates that overlap text an earlier one already claimed.
"""

from __future__ import annotations

from bisect import bisect_right


class Claims:
    """Disjoint [start, end) ranges kept sorted, so a lookup is a binary search."""

    __slots__ = ("_ends", "_starts")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect_right(self._ends, start)  # first range ending after ``start``
        return i < len(self._starts) and self._starts[i] < end

    def add(self, start: int, end: int) -> None:
        """Claim a range; callers only claim ranges that do not overlap an existing claim."""
        i = bisect_right(self._ends, start)
        self._starts.insert(i, start)
        self._ends.insert(i, end)
