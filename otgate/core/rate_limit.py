"""Token bucket: at most `rate_per_s` requests per second on average, with bursts up to `burst`.

Pure: the caller passes the time and keeps the returned bucket, so tests drive it without a clock.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TokenBucket:
    rate_per_s: float
    burst: float
    tokens: float
    updated_at: float

    @classmethod
    def full(cls, rate_per_s: float, burst: float, now: float) -> TokenBucket:
        return cls(rate_per_s, burst, burst, now)

    def resized(self, rate_per_s: float, burst: float) -> TokenBucket:
        """The same bucket under new limits (a config reload): never more tokens than the new burst."""
        return TokenBucket(rate_per_s, burst, min(self.tokens, burst), self.updated_at)

    def take(self, now: float, cost: float = 1.0) -> tuple[TokenBucket, float]:
        """The bucket after trying to take `cost`, and 0.0 if granted or the seconds to wait if refused."""
        elapsed = max(0.0, now - self.updated_at)
        tokens = min(self.burst, self.tokens + elapsed * self.rate_per_s)
        if tokens >= cost:
            return TokenBucket(self.rate_per_s, self.burst, tokens - cost, now), 0.0
        wait = (cost - tokens) / self.rate_per_s
        return TokenBucket(self.rate_per_s, self.burst, tokens, now), wait
