"""The gateway's global rate limit under load: 64 workers against a limit of N requests per period,
printed as achieved / configured rate (target within 5%) and the most requests seen in any window."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import httpx

from cookbook.llm.gateway import Gateway
from cookbook.llm.rate_limit import RateLimiter
from cookbook.scripted.server import Reply, ScriptedLLM
from cookbook.seams import Endpoint

WORKERS, LIMIT, PERIOD_S, DURATION_S = 64, 100, 5.0, 30.0


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        ScriptedLLM(lambda r: Reply(content="ok"), models={"m"}, latency=0.05) as llm,
        Gateway(
            Endpoint(llm.base_url, "k", "m"), rate_limiter=RateLimiter(requests=LIMIT, period_s=PERIOD_S)
        ) as gateway,
    ):
        url = gateway.register("bench", Path(tmp) / "t.jsonl")
        stop = time.monotonic() + DURATION_S

        def worker() -> None:
            with httpx.Client(timeout=120) as client:
                while time.monotonic() < stop:
                    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
                    client.post(f"{url}/chat/completions", json=body)

        threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        times = sorted(r["time"] for r in llm.requests)
    span = times[-1] - times[0]
    full_periods = int(span // PERIOD_S)  # whole periods from the first request: the steady state
    achieved = sum(1 for t in times if t < times[0] + full_periods * PERIOD_S) / full_periods
    busiest = max(sum(1 for u in times if t <= u < t + PERIOD_S * 0.97) for t in times)
    print(
        f"rate limit: {WORKERS} workers, limit {LIMIT} requests per {PERIOD_S:g} s, {len(times)} requests in "
        f"{span:.1f} s: {achieved:.1f} per period, ratio achieved/configured {achieved / LIMIT:.3f} "
        f"(target: within 5%); busiest window {busiest}"
    )


if __name__ == "__main__":
    main()
