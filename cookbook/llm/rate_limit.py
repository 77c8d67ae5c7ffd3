"""The gateway's shared rate limit: requests and tokens per window, for every run of a gateway."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    """At most `requests` requests and `tokens` tokens in any window of `period_s` seconds, shared by all
    the runs of a gateway (so 50+ parallel agents stay under the provider's limits): a request that does
    not fit waits. Tokens are the request's estimate (its size / 4) at admission."""

    def __init__(self, requests: int | None = None, tokens: int | None = None, period_s: float = 60.0):
        self.requests, self.tokens, self.period_s = requests, tokens, period_s
        self._sent: list[tuple[float, int]] = []
        self._cond = threading.Condition()

    def acquire(self, tokens: int) -> float:
        """Wait until the request fits; return the seconds waited."""
        start = time.monotonic()
        with self._cond:
            while True:
                now = time.monotonic()
                self._sent = [(t, n) for t, n in self._sent if t > now - self.period_s]
                fits_requests = self.requests is None or len(self._sent) < self.requests
                fits_tokens = (
                    self.tokens is None or not self._sent or sum(n for _, n in self._sent) + tokens <= self.tokens
                )
                if fits_requests and fits_tokens:
                    self._sent.append((now, tokens))
                    return now - start
                self._cond.wait(timeout=max(0.01, self._sent[0][0] + self.period_s - now))
