"""evaluate: an LLM judge says why each patch passed or failed, in English the optimizer can learn from.

    train_df = evaluate_results(train_df, ruleset=ruleset)   # adds correctness, explanation, improvement,
                                                            # rule_verdicts, trajectory, judge_error

The judge sees the problem statement, what the agent did (its trajectory, condensed from the run's
transcript by `cookbook.trajectories.condense`: the commands it ran with the tail of their output, the
files it read and edited, whether it ran the tests and what they said, how it ended), the agent's patch,
the gold patch, the test patch, the harness result and the failing tests with the tail of their log, and
answers with structured output, so its explanation can say what the agent did ("never ran the failing
test", "edited the wrong module"). The harness result is the ground truth: the judge explains it, it does
not overrule it (`correctness` always follows `pass_or_fail`; a judge that disagreed is flagged in
`judge_disagreed`).

When the run had a ruleset, the judge also says for each rule — shown one per line with its id: the
optimizer's (`rules`, delta mode: ids that stay with a rule), else r1, r2, … as
`cookbook.rulesets.parse_rules` numbers the ruleset's lines — whether the agent followed it, broke it, or
it did not apply, with its evidence (`rule_verdicts`: a JSON list of {"id", "verdict", "evidence"}). The
optimizer's delta mode counts them to the rule of that id (`cookbook.rulesets.count_verdicts`).

The judge's answer budget covers a reasoning model's hidden reasoning (default 32000 tokens for the gpt-5
family and o-series, 8000 otherwise); a reply cut at it is asked again with more room by the client.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import pandas as pd
from tqdm.auto import tqdm

from cookbook.grading import as_test_list
from cookbook.llm.client import LLMClient
from cookbook.llm.endpoints import endpoint_for
from cookbook.llm.models import default_answer_tokens
from cookbook.rulesets import rules_of
from cookbook.seams import ERROR, CookbookError, Endpoint
from cookbook.trajectories import condense

JUDGE_COLUMNS = ("correctness", "explanation", "improvement", "rule_verdicts", "trajectory")  # and judge_*
TOKEN_COLUMNS = ("prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_tokens")  # judge_<column> per row
CUT_MARKER = "\n[... {n} characters cut ...]\n"

JUDGE_INSTRUCTIONS = """You review the work of an autonomous coding agent on GitHub issues.
The repository's tests decided whether its patch resolves the issue; that result is final and given
below. Your job is to explain WHY the agent's patch passed or failed: say what the agent did, from its
trajectory (the commands it ran and what they printed, the files it read and edited, whether it ran the
tests, how it ended; long outputs and long runs are cut where marked), and compare its patch with the
reference (gold) patch and the tests. Name the
decisive step or omission ("never ran the failing test", "edited the wrong module", "gave up after
reading one file"). Then suggest one general improvement to the agent's working rules that would have
helped (a habit or check that applies to other issues and repositories too, not a fix for this one).
Never suggest asking the user for clarification: the agent works alone."""

RULES_INSTRUCTIONS = """
The agent worked under the rules listed below (ids in brackets). For EACH rule, say in "rules" whether
the agent followed it, broke it, or it did not apply to this run ("not_applicable"), with the evidence
from the trajectory in a few words."""

VERDICTS = ("followed", "broken", "not_applicable")

JUDGE_SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "patch_judgement",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                "correctness": {"type": "string", "enum": ["correct", "incorrect"]},
                "explanation": {"type": "string"},
                "improvement": {"type": "string"},
            },
            "required": ["correctness", "explanation", "improvement"],
            "additionalProperties": False,
        },
    },
}


def judge_schema(rule_ids: list[str]) -> dict:
    """The judge's structured output: JUDGE_SCHEMA, plus a verdict on every rule when there are rules
    (strict: every field required, ids limited to the rules'; OpenAI's strict mode requires both)."""
    if not rule_ids:
        return JUDGE_SCHEMA
    verdict = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "enum": list(rule_ids)},
            "verdict": {"type": "string", "enum": list(VERDICTS)},
            "evidence": {"type": "string"},
        },
        "required": ["id", "verdict", "evidence"],
        "additionalProperties": False,
    }
    schema = json.loads(json.dumps(JUDGE_SCHEMA))
    body = schema["json_schema"]["schema"]
    body["properties"]["rules"] = {"type": "array", "items": verdict}
    body["required"].append("rules")
    return schema


def cut(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its head and tail with a visible marker between."""
    text = text or ""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    return text[:head] + CUT_MARKER.format(n=len(text) - limit) + text[-tail:]


def judge_messages(
    row: dict,
    max_patch_chars: int = 20_000,
    log_tail_chars: int = 3_000,
    rules: list | None = None,
    trajectory: str | None = None,
) -> list[dict]:
    """The judge's request for one row of run_act's results. `trajectory`: the condensed trajectory
    (default: `condense(row)`); `rules`: the run's rules with their ids (`rules_of`), each to be judged."""
    failed = as_test_list(row.get("failed_tests"))
    verdict = "PASSED (resolved the issue)" if row["pass_or_fail"] == "pass" else "FAILED (did not resolve the issue)"
    log = str(row.get("test_log") or "")
    sections = [
        ("Issue (problem statement)", str(row["problem_statement"])),
        ("What the agent did (condensed from its transcript)", condense(row) if trajectory is None else trajectory),
        (
            "Agent's patch",
            cut(str(row.get("cline_patch") or ""), max_patch_chars) or "(empty: the agent changed nothing)",
        ),
        ("Reference (gold) patch", cut(str(row.get("patch") or ""), max_patch_chars)),
        ("Test patch (the hidden tests)", cut(str(row.get("test_patch") or ""), max_patch_chars)),
        ("Test result", verdict + (f"\nHarness note: {row['score_reason']}" if row.get("score_reason") else "")),
        ("Failing tests", "\n".join(failed) if failed else "(none)"),
        (f"Tail of the test log (last {log_tail_chars} characters)", log[-log_tail_chars:] if log else "(no log)"),
    ]
    if rules:
        sections.append(("The agent's rules", "\n".join(f"[{rule.id}] {rule.text}" for rule in rules)))
    body = "\n\n".join(f"## {title}\n{text}" for title, text in sections)
    instructions = JUDGE_INSTRUCTIONS + (RULES_INSTRUCTIONS if rules else "")
    return [{"role": "system", "content": instructions}, {"role": "user", "content": body}]


def _parse(text: str, rule_ids: list[str] | tuple[str, ...] = ()) -> dict | None:
    """The judge's answer, or None when it is not a usable judgement. Rule verdicts on unknown ids, or a
    second verdict on the same rule, are left out."""
    try:
        answer = json.loads(text)
    except ValueError:
        return None
    if not isinstance(answer, dict) or answer.get("correctness") not in ("correct", "incorrect"):
        return None
    if not str(answer.get("explanation") or "").strip():
        return None
    verdicts = {}
    for item in answer.get("rules") or [] if rule_ids else []:
        if isinstance(item, dict) and item.get("id") in rule_ids and item.get("verdict") in VERDICTS:
            verdicts.setdefault(item["id"], {k: str(item.get(k) or "") for k in ("id", "verdict", "evidence")})
    return {
        "correctness": answer["correctness"],
        "explanation": str(answer["explanation"]),
        "improvement": str(answer.get("improvement") or ""),
        "rules": [verdicts[i] for i in rule_ids if i in verdicts],
    }


@dataclass
class _Judge:
    """Judges one row at a time (the pool's task); its settings are evaluate_results' arguments."""

    client: LLMClient
    answer_tokens: int
    reasoning_effort: str | None
    rules: list
    max_patch_chars: int
    log_tail_chars: int
    max_trajectory_chars: int
    parse_retries: int

    def __call__(self, row: dict) -> dict:
        infrastructure = row.get("outcome") == ERROR  # not the agent's outcome: nothing to explain or learn
        truth = "correct" if row["pass_or_fail"] == "pass" else "incorrect"
        out = {"correctness": "" if infrastructure else truth, "explanation": "", "improvement": ""}
        out |= {"rule_verdicts": "", "trajectory": "", "judge_disagreed": None, "judge_error": ""}
        out |= {f"judge_{column}": 0 for column in TOKEN_COLUMNS} | {"judge_cost_usd": None}
        if infrastructure:
            return out
        out["trajectory"] = condense(row, self.max_trajectory_chars)
        messages = judge_messages(row, self.max_patch_chars, self.log_tail_chars, self.rules, out["trajectory"])
        ids = [rule.id for rule in self.rules]
        for attempt in range(self.parse_retries + 1):
            try:
                reply = self.client.chat(
                    messages,
                    response_format=judge_schema(ids),
                    max_tokens=self.answer_tokens,
                    reasoning_effort=self.reasoning_effort,
                    cache_if=lambda r: _parse(r.text, ids) is not None,
                )
            except CookbookError:
                raise  # the endpoint itself is wrong (key, model, address): every row would fail the same way
            except Exception as e:
                out["judge_error"] = f"{type(e).__name__}: {e}"
                return out
            for column in TOKEN_COLUMNS:
                out[f"judge_{column}"] += getattr(reply, column)
            if reply.cost_usd is not None:
                out["judge_cost_usd"] = (out["judge_cost_usd"] or 0.0) + reply.cost_usd
            answer = _parse(reply.text, ids)
            if answer is None:
                out["judge_error"] = f"unparseable judge reply after {attempt + 1} tries: {reply.text[:300]!r}"
                continue
            out.update(
                explanation=answer["explanation"],
                improvement=answer["improvement"],
                rule_verdicts=json.dumps(answer["rules"]) if ids else "",
                judge_disagreed=answer["correctness"] != truth,
                judge_error="",
            )
            return out
        return out


def evaluate_results(
    df: pd.DataFrame,
    model: str | None = None,
    endpoint: Endpoint | None = None,
    concurrency: int = 8,
    max_patch_chars: int = 20_000,
    log_tail_chars: int = 3_000,
    parse_retries: int = 2,
    cache: bool = True,
    client: LLMClient | None = None,
    progress: bool = True,
    answer_tokens: int | None = None,
    reasoning_effort: str | None = None,
    ruleset: str | None = None,
    max_trajectory_chars: int = 8_000,
    judge: Judge | None = None,
    rules: list | None = None,
) -> pd.DataFrame:
    """Judge every row of run_act's results; return a copy with `correctness`, `explanation`,
    `improvement`, `rule_verdicts` (with a `ruleset`: a JSON list of {"id", "verdict", "evidence"} per
    rule; else ""), `trajectory` (what the judge was shown of the agent's run, at most
    `max_trajectory_chars` characters), `judge_disagreed`, `judge_error` and the judge's tokens per row
    (`judge_prompt_tokens`, `judge_completion_tokens`, `judge_reasoning_tokens`, `judge_cached_tokens`) and
    cost (`judge_cost_usd`, None when the model has no price).

    `ruleset` is the ruleset the rows ran (the same for all rows, as run_act runs one): each of its rules
    gets a verdict, by the ids of `rules` (`cookbook.rulesets.rules_of(ruleset, optimizer.rules)`; default:
    its lines numbered r1, r2, …). The judge's model is `client`'s, else `endpoint`'s, else `model` (else
    JUDGE_MODEL, else gpt-5) at the judge's endpoint (JUDGE_BASE_URL / JUDGE_API_KEY, else the OpenAI pair).
    `answer_tokens` is the answer budget (default by model: reasoning included); `reasoning_effort` overrides
    the endpoint's.

    Infrastructure errors (`outcome` "error") are not judged: their judge columns stay empty. With `judge`
    (a `Judge` run_act fed rows as they were scored), its judgements are taken, the others made now.
    A reply that cannot be parsed is asked again (`parse_retries` times, uncached), then recorded as the
    row's `judge_error`; so is a transport error that outlasts the client's retries (429, 5xx).
    """
    client = client or (judge.client if judge else _client(endpoint, model, cache))
    judge_one = _Judge(
        client,
        answer_tokens or default_answer_tokens(client.model),
        reasoning_effort,
        rules_of(ruleset or "", rules or []),
        max_patch_chars,
        log_tail_chars,
        max_trajectory_chars,
        parse_retries,
    )
    rows = df.to_dict("records")
    judged_before = judge.collect() if judge else {}

    def judge_row(row: dict) -> dict:
        key = (row["instance_id"], row.get("attempt", 0))
        return judged_before[key] if key in judged_before else judge_one(row)

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        results = list(tqdm(pool.map(judge_row, rows), total=len(rows), desc="judging", disable=not progress))
    return df.assign(**{column: [r[column] for r in results] for column in (results[0] if results else [])})


def _client(endpoint: Endpoint | None, model: str | None, cache: bool = True) -> LLMClient:
    """The judge's client: `endpoint`, else `model` at the judge's endpoint (`cookbook.llm.endpoints`)."""
    return LLMClient(endpoint or endpoint_for(model, role="judge"), cache=cache)


class Judge:
    """Judges rows while the agent runs go on: give `on_row` to run_act (`on_row=judge.on_row`) and each
    row of `splits` (default: train) is judged as soon as it is scored, `concurrency` at a time; then
    `evaluate_results(df, judge=judge)` waits for those still under way and takes their judgements, so
    no row is judged twice. Use it as a context manager: leaving on an error cancels what has not started.
    Takes evaluate_results' options (model, endpoint, client, max_patch_chars, …)."""

    def __init__(self, model: str | None = None, endpoint: Endpoint | None = None, splits=("train",), **options):
        concurrency = options.pop("concurrency", 8)
        self.client = options.pop("client", None) or _client(endpoint, model)
        self.options, self.splits = options, tuple(splits)
        self.pool = ThreadPoolExecutor(max_workers=max(1, concurrency))
        self.pending: dict[tuple[str, int], Future] = {}

    def on_row(self, split: str, row: dict) -> None:
        if split in self.splits and row.get("outcome") != ERROR:
            key = (row["instance_id"], row.get("attempt", 0))
            frame = pd.DataFrame([row])
            self.pending[key] = self.pool.submit(
                evaluate_results, frame, client=self.client, progress=False, concurrency=1, **self.options
            )

    def collect(self) -> dict[tuple[str, int], dict]:
        """{(instance_id, attempt): the judge's columns} of every row given so far, once all are judged."""
        judged = {}
        for key, future in self.pending.items():
            frame = future.result()
            judged[key] = {c: frame[c].iloc[0] for c in frame.columns if c.startswith("judge_") or c in JUDGE_COLUMNS}
        return judged

    def __enter__(self) -> Judge:
        return self

    def __exit__(self, kind, *exc) -> None:
        self.pool.shutdown(wait=kind is None, cancel_futures=kind is not None)
