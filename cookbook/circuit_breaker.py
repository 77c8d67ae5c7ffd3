"""The circuit breaker: a split whose runs end in infrastructure errors more than a share of the time stops
the loop — as soon as that is certain, so no more money goes into a run that cannot count."""

from __future__ import annotations

from collections import Counter

from cookbook.seams import ERROR, CookbookError


class InfrastructureFailure(CookbookError):
    """Too many of a split's runs ended in infrastructure errors: the loop stops before judging, logging or
    optimizing, and nothing of it is marked done (a re-run resumes from the stored runs)."""


class CircuitBreaker:
    """Counts each split's infrastructure errors as rows arrive (`add`); raises InfrastructureFailure the
    moment a split's errors exceed `max_share` of its size, naming the most common error and its count."""

    def __init__(self, max_share: float, sizes: dict[str, int]):
        self.max_share, self.sizes = max_share, sizes
        self.failures: dict[str, Counter] = {split: Counter() for split in sizes}

    def add(self, split: str, row: dict) -> None:
        """Count a row as it arrives; trip as soon as the split's share of errors is certain to be too high."""
        self.record(split, row)
        self.check(split)

    def record(self, split: str, row: dict) -> None:
        if row.get("outcome") == ERROR:
            self.failures[split][(row.get("error_kind", ""), row.get("error", ""))] += 1

    def check(self, split: str) -> None:
        failures = self.failures[split]
        failed, size = sum(failures.values()), self.sizes[split]
        if failed > self.max_share * size:
            (kind, message), count = failures.most_common(1)[0]
            fix = "fix the cause and run again: finished runs are kept."
            if kind == "environment":  # a property of those instances here: retrying will not help
                fix = (
                    "`make validate-benchmark HARNESS=docker DATASET=… REPOS_DIR=…` names every instance whose "
                    "environment cannot be built or run here: leave them out of the dataset and run again."
                )
            raise InfrastructureFailure(
                f"{split}: {failed} of {size} runs ended in infrastructure errors (more than {self.max_share:.0%}); "
                f"most common ({count}x), {kind}: {message}. Nothing of this loop was judged or learned from; {fix}"
            )
