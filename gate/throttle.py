"""Sign-in throttling that delays, never locks out.

Two budgets, both in memory per gate process and bounded in size:

- per recipient (:class:`MailSchedule`): at most one sign-in e-mail per ``interval`` seconds. A request
  inside the interval is not refused: it is coalesced into one send at the end of the interval. So a
  stranger submitting a member's address in a loop delays that member's e-mail by at most ``interval``
  (60 s by default, never more than 300), and the member asking for a link always gets one by then.
- per client address (:class:`TokenBucket`): ``burst`` submissions at once, then one per ``refill``
  seconds; over budget the answer is 429 with the seconds to wait (the same for every address).

Neither depends on whether the address is a member: the answer and the work done before it are the same.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict

MAX_KEYS = 100_000
#: Replies a member may send at once (gate/replypage.py), then one more every REPLY_REFILL seconds.
REPLY_BURST = 5
REPLY_REFILL = 120.0


class MailSchedule:
    """When to send each recipient's sign-in e-mail: now, once at the end of the interval, or not again."""

    def __init__(self, interval: float, max_keys: int = MAX_KEYS) -> None:
        self.interval = interval
        self.max_keys = max_keys
        self.last: OrderedDict[str, float] = OrderedDict()  # time of the latest send, done or scheduled
        self.due: list[tuple[float, str]] = []  # scheduled sends (heap by time)
        self.pending: set[str] = set()

    def request(self, address: str, now: float) -> float | None:
        """The time this request's e-mail goes out, or None when it joins a send already scheduled."""
        if address in self.pending:
            return None
        last = self.last.get(address)
        when = now if last is None or now - last >= self.interval else last + self.interval
        self.last[address] = when
        self.last.move_to_end(address)
        if len(self.last) > self.max_keys:
            self.last.popitem(last=False)
        if when > now:
            self.pending.add(address)
            heapq.heappush(self.due, (when, address))
        return when

    def pop_due(self, now: float) -> list[str]:
        """The recipients whose delayed e-mail is due at ``now`` (each returned once)."""
        out = []
        while self.due and self.due[0][0] <= now:
            _, address = heapq.heappop(self.due)
            self.pending.discard(address)
            out.append(address)
        return out


class TokenBucket:
    """``burst`` events at once per key, refilled at one per ``refill`` seconds."""

    def __init__(self, burst: int, refill: float, max_keys: int = MAX_KEYS) -> None:
        self.burst = burst
        self.refill = refill
        self.max_keys = max_keys
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def take(self, key: str, now: float) -> float:
        """0 when the event may go ahead (one token spent), else the seconds until a token is there."""
        tokens, at = self.buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + max(0.0, now - at) / self.refill)
        if tokens >= 1:
            self.buckets[key] = (tokens - 1, now)
            wait = 0.0
        else:
            self.buckets[key] = (tokens, now)
            wait = (1 - tokens) * self.refill
        self.buckets.move_to_end(key)
        if len(self.buckets) > self.max_keys:
            self.buckets.popitem(last=False)
        return wait
