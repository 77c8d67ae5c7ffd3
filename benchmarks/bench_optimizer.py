"""Optimizer batching: how full each meta-prompt request is (tokens sent / budget) for a 150-row
dataset at a 32,000-token window, counted with tiktoken on the requests the (scripted) model received."""

from __future__ import annotations

import tempfile

import pandas as pd

from cookbook.data import load_instances
from cookbook.llm.client import LLMClient
from cookbook.llm.tokens import count_message_tokens
from cookbook.scripted.server import Reply, ScriptedLLM
from cookbook.seams import Endpoint
from optimizer import PromptLearningOptimizer

ROWS, WINDOW = 150, 32_000


def main() -> None:
    bundled = load_instances("bundled")
    rows = []
    for i in range(ROWS):
        inst = bundled.iloc[i % len(bundled)]
        rows.append(
            {
                "instance_id": f"{inst['instance_id']}#{i}",
                "problem_statement": inst["problem_statement"],
                "cline_patch": inst["patch"],
                "correctness": "incorrect" if i % 3 else "correct",
                "explanation": f"Row {i}: the patch changed the right function but missed the case the "
                "hidden test exercises; running the tests would have shown it.",
            }
        )
    with (
        tempfile.TemporaryDirectory() as tmp,
        ScriptedLLM(lambda r: Reply(content="<ruleset>\n- a rule\n</ruleset>"), models={"gpt-5"}) as llm,
    ):
        client = LLMClient(Endpoint(llm.base_url, "bench", "gpt-5"), cache=False, cache_dir=tmp)
        opt = PromptLearningOptimizer("You are a coding agent.", client=client)
        opt.optimize(
            pd.DataFrame(rows), "cline_patch", ["correctness", "explanation"], ruleset="", context_size_k=WINDOW
        )
        sent = [count_message_tokens(r["messages"], "gpt-5") for r in llm.chat_requests()]
    budget, answer = opt.budget(WINDOW)  # tokens a request may hold, tokens kept for the answer
    over = sum(s + answer > WINDOW for s in sent)
    full = sent[:-1] or sent
    print(
        f"optimizer: {ROWS} rows, a {WINDOW}-token window ({answer} tokens kept for the answer): "
        f"{len(sent)} batches, {over} over the window"
    )
    print(
        f"  fill ratio tokens sent / budget: {sum(full) / (len(full) * budget):.3f} over the full batches "
        f"(target >= 0.85), {sum(sent) / (len(sent) * budget):.3f} with the last one; "
        f"request + answer room / window {max(sent) + answer} / {WINDOW}"
    )


if __name__ == "__main__":
    main()
