"""optimizer: Prompt Learning — a strong model rewrites the agent's ruleset from English feedback.

    optimizer = PromptLearningOptimizer(prompt=baseline_prompt, model_choice="gpt-5")
    new_ruleset = optimizer.optimize(train_df, "cline_patch", ["correctness", "explanation"],
                                     ruleset=ruleset, context_size_k=400000)

Ruleset mode (the cookbook's): the baseline prompt is static and shown for context; only the ruleset
is rewritten (`tried`: rulesets already grown from it and how they did, shown so that growing from the
same ruleset again is not the same request and does not repeat them). Prompt mode (`ruleset=None`): the
prompt itself is rewritten, and its template variables (`{var}`) must survive. Rows are packed into
batches so that the whole request — template, baseline prompt, current ruleset, rows — and room for the
answer fit `context_size_k` tokens (tiktoken's count; despite its name, in tokens, as the cookbook passes
it: `context_size_k=400000` for gpt-5; default: the model's window where known, else 128000); batches run
in order, each refining the ruleset the previous one produced. The answer budget (`answer_tokens`,
default 32000 for reasoning models, whose hidden reasoning counts against it, else 8000) takes at most a
quarter of the window (a reply cut at it is asked again with more room, within the model's own limits); a
request never exceeds the model's input limit (272000 for the gpt-5 family).

Two modes of update:
- `mode="rewrite"` (default, the cookbook's): the model returns the complete new ruleset between
  `<ruleset>` and `</ruleset>`.
- `mode="delta"`: the ruleset is a list of rules with stable ids; the model answers with operations
  only (add / edit / remove by id, structured output) which the code applies, so lessons are kept
  word for word unless the data says otherwise. Each rule keeps its provenance (loop, instances) and
  counters fed by the judge's per-rule verdicts on the rows (`rule_verdicts`; see `cookbook.rulesets`
  for the mapping); the model sees them beside each rule and is asked to remove or merge rules that
  never helped. The code then drops a rule judged in `drop_unhelpful_after` loops that never helped,
  merges near-duplicates (word overlap of `merge_threshold` or more), and keeps the ruleset within its
  caps. The rules live beside the plain-text ruleset (`save_rules`).

Both modes keep the ruleset within `max_ruleset_tokens` (tiktoken's count) and `max_ruleset_chars`: the
meta-prompt states the caps; a rewrite over them keeps its first whole lines that fit; in delta mode the
rules that helped least are removed until it fits (each removal reported on the call).

A reply cut at the answer budget is asked again with more room (never cached); one still empty, cut or
unparseable keeps the previous ruleset (a warning, the call's `kept_previous`), never garbage.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from cookbook.files import atomic_write_text
from cookbook.llm.client import LLMClient
from cookbook.llm.endpoints import endpoint_for
from cookbook.llm.models import default_answer_tokens, limits
from cookbook.llm.tokens import count_message_tokens, count_tokens, fit_text
from cookbook.rulesets import (
    DELTA_SCHEMA,
    Rule,
    apply_operations,
    cap_lines,
    count_verdicts,
    drop_unhelpful,
    find_leaks,
    fit_rules,
    merge_near_duplicates,
    parse_rules,
    render_rules,
    rules_of,
    tried_section,
)
from cookbook.seams import ERROR, Endpoint

__all__ = ["PromptLearningOptimizer", "find_leaks", "parse_rules", "render_rules"]

DEFAULT_CONTEXT_TOKENS = 128_000  # the window of a model the project does not know
SHORTENED_MARKER = "\n[... shortened to fit the context window ...]\n"
TEMPLATE_VARIABLE = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")

META_PROMPT = """You improve the working rules of an autonomous coding agent. The agent receives a GitHub
issue and a repository, edits the code, and its patch is checked by hidden tests. It works alone: it
cannot ask anyone for clarification.

## The agent's baseline prompt (fixed; shown for context only, do not rewrite it)
<<BASELINE>>

## The current <<TARGET_NAME>>
<<CURRENT>><<TRIED>>

## Examples: the agent's work on real issues, with feedback on each
<<EXAMPLES>>

## Your task
<<TASK>>"""

REWRITE_TASK = """Write an improved <<TARGET_NAME>> from the feedback above.
- Rules must be general: about how to investigate, edit, test and verify, useful on other issues and
  repositories. Never name a specific repository, file, function or instance from the examples.
- Keep rules that still help; merge duplicates; drop rules the feedback shows are harmful.
- Be concise and actionable: one rule per line, starting with "- ".
- No rule may require asking the user or waiting for input.
- At most <<MAX_TOKENS>> tokens (about <<MAX_CHARS>> characters) in all: every rule costs the agent
  attention on every task, so keep only rules that pay for their length.
<<VARIABLES>>Answer with the complete new <<TARGET_NAME>> between <ruleset> and </ruleset>, nothing else inside them."""

DELTA_TASK = """Propose changes to the rules above (each has an id in brackets) from the feedback.
- Rules must be general: about how to investigate, edit, test and verify, useful on other issues and
  repositories. Never name a specific repository, file, function or instance from the examples.
- Operations: "add" a new rule (text; sources = the instance ids whose feedback motivates it),
  "edit" a rule by id (new text), "remove" a rule by id (only when the feedback shows it hurts).
  Rules you do not mention are kept exactly as they are. Prefer few, high-value operations.
- Each rule shows its record from the judge's verdicts (followed or broken, in passing or failing runs).
  Remove rules that never helped once they have been judged, or merge them into a rule that did; merge
  rules that say the same thing (edit one, remove the other). Rules that do not help lower success and
  cost tokens on every task.
- Concise, actionable rules; no rule may require asking the user. The whole ruleset must stay under
  <<MAX_TOKENS>> tokens (about <<MAX_CHARS>> characters).
- In "effects", say which existing rules the examples show helped or hurt."""


@dataclass
class OptimizerCall:
    """One meta-prompt call, for Phoenix and the notebook."""

    batch: int
    rows: int
    request_tokens: int
    meta_prompt: str
    reply: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    kept_previous: bool = False
    warning: str = ""
    loop: int | None = None
    report: list[str] = field(default_factory=list)  # delta mode: what was applied or ignored
    reasoning_tokens: int = 0  # hidden reasoning, part of completion_tokens
    cached_tokens: int = 0  # prompt tokens read from the provider's prompt cache
    answer_tokens: int = 0  # the answer budget sent (max_completion_tokens)
    attempts: int = 1  # requests: more than one when a cut reply was asked again with more room


class PromptLearningOptimizer:
    """The cookbook's optimizer. `prompt` is the agent's baseline prompt (static in ruleset mode)."""

    def __init__(
        self,
        prompt: str,
        model_choice: str | None = None,
        openai_api_key: str | None = None,
        mode: str = "rewrite",
        max_ruleset_chars: int = 6_000,
        max_ruleset_tokens: int | None = 1_500,
        drop_unhelpful_after: int | None = None,
        merge_threshold: float = 0.75,
        answer_tokens: int | None = None,
        loop: int | None = None,
        client: LLMClient | None = None,
        cache: bool = True,
        endpoint: Endpoint | None = None,
        reasoning_effort: str | None = None,
    ):
        """The model is `client`'s, else `endpoint`'s, else `model_choice` (else OPTIMIZER_MODEL, else gpt-5)
        at the optimizer's endpoint (OPTIMIZER_BASE_URL / OPTIMIZER_API_KEY, else the OpenAI pair).
        `reasoning_effort` overrides the endpoint's; `answer_tokens` defaults by model (see the module).
        `max_ruleset_tokens` / `max_ruleset_chars` cap the ruleset; `drop_unhelpful_after` (delta mode) drops
        a rule judged in that many loops that never helped (None: never); `merge_threshold` is the word
        overlap at which two rules are merged (see `cookbook.rulesets`)."""
        if mode not in ("rewrite", "delta"):
            raise ValueError(f"mode must be 'rewrite' or 'delta', not {mode!r}")
        self.prompt = prompt
        self.mode = mode
        self.max_ruleset_chars = max_ruleset_chars
        self.max_ruleset_tokens = max_ruleset_tokens
        self.drop_unhelpful_after = drop_unhelpful_after
        self.merge_threshold = merge_threshold
        self._notes: list[str] = []  # delta mode: what the counters did before the first call, for its report
        self._verdicts = 0  # delta mode: judge verdicts counted in the current optimize()
        self.tried: list[tuple[str, str]] = []  # rulesets already grown from the current one (run.select sets it)
        self.loop = loop
        self.reasoning_effort = reasoning_effort
        endpoint = endpoint or (
            None if client else endpoint_for(model_choice, api_key=openai_api_key, role="optimizer")
        )
        self.client = client or LLMClient(endpoint, cache=cache)
        self.model = self.client.model
        self.answer_tokens = answer_tokens or default_answer_tokens(self.model)
        self.calls: list[OptimizerCall] = []
        self.rules: list[Rule] = []

    # -- public ---------------------------------------------------------------------------------------
    def optimize(
        self,
        dataset: pd.DataFrame,
        output_column: str,
        feedback_columns: list[str],
        ruleset: str | None = None,
        context_size_k: int | None = None,
    ) -> str:
        """Return the new ruleset (or, with `ruleset=None`, the new prompt) learned from `dataset`.

        Each row shows its `problem_statement`, its `output_column` (the agent's output) and its
        `feedback_columns`; rows whose `outcome` is an infrastructure error are left out. `context_size_k`
        is the context window in tokens (400000 for gpt-5; None: the model's own); a value under 1,000 is
        refused. The calls made are appended to `self.calls`.
        """
        missing = [c for c in ["problem_statement", output_column, *feedback_columns] if c not in dataset.columns]
        if missing:
            raise ValueError(f"optimize: the dataset has no column(s) {', '.join(missing)}.")
        if "outcome" in dataset.columns:  # infrastructure errors are never feedback: the agent did not fail
            dataset = dataset[dataset["outcome"] != ERROR]
        budget, answer = self.budget(context_size_k)
        prompt_mode = ruleset is None
        current = self.prompt if prompt_mode else ruleset
        if self.mode == "delta" and not prompt_mode:
            self.rules = rules_of(current, self.rules, self.loop)  # the ids the judge named them with
            self._verdicts = count_verdicts(self.rules, dataset.to_dict("records"))  # once per optimize()
            self._notes = drop_unhelpful(self.rules, self.drop_unhelpful_after)
        examples = [self._example(row, output_column, feedback_columns) for row in dataset.to_dict("records")]
        ids = [str(row.get("instance_id", i)) for i, row in enumerate(dataset.to_dict("records"))]
        batch = 0
        while examples:
            fixed_messages = self._messages(current, [], prompt_mode)
            room = budget - count_message_tokens(fixed_messages, self.model)
            if room <= 200:
                raise ValueError(
                    f"context_size_k={context_size_k} leaves no room for examples: the template, prompt and ruleset "
                    f"take {budget - room} tokens plus {answer} for the answer."
                )
            taken, used = [], 0
            while examples:
                cost = count_tokens(examples[0], self.model) + 2  # the blank line that joins examples
                if cost > room - used:
                    if taken:
                        break
                    examples[0] = fit_text(
                        examples[0], room - used - 2, self.model, SHORTENED_MARKER
                    )  # one row alone too large
                    cost = count_tokens(examples[0], self.model) + 2
                taken.append(examples.pop(0))
                used += cost
            batch_ids, ids = ids[: len(taken)], ids[len(taken) :]
            messages = self._messages(current, taken, prompt_mode)
            # tokenization at the seams can differ by a token or two: trim the last example if needed
            while count_message_tokens(messages, self.model) > budget:
                taken[-1] = fit_text(taken[-1], count_tokens(taken[-1], self.model) - 16, self.model, SHORTENED_MARKER)
                messages = self._messages(current, taken, prompt_mode)
            current = self._call(batch, messages, current, batch_ids, prompt_mode, answer)
            batch += 1
        return current

    def budget(self, context_size_k: int | None) -> tuple[int, int]:
        """(the most tokens one request may hold, the answer budget) for a window of `context_size_k` tokens
        (None: the model's, else 128000), never over the model's own window or input limit."""
        known = limits(self.model)
        window = context_size_k or (known.window if known else DEFAULT_CONTEXT_TOKENS)
        if window < 1000:
            raise ValueError(
                f"optimize: context_size_k={window} looks like thousands of tokens; it is in tokens, as the cookbook "
                f"passes it: context_size_k={window * 1000} (gpt-5: 400000, gpt-4.1: 1047576, gpt-4o: 128000)."
            )
        if known and window > known.window:
            warnings.warn(f"context_size_k={window} is over {self.model}'s window; using {known.window}", stacklevel=3)
            window = known.window
        answer = min(self.answer_tokens, window // 4)
        request = window - answer
        if known and known.max_input:
            request = min(request, known.max_input)
        return request, answer

    def save_rules(self, path: Path | str) -> None:
        """The rules with ids, provenance and counters, as JSON (delta mode)."""
        atomic_write_text(Path(path), json.dumps([asdict(r) for r in self.rules], indent=1))

    def load_rules(self, path: Path | str) -> str:
        """Read rules saved by `save_rules`; return the plain-text ruleset."""
        self.rules = [Rule(**r) for r in json.loads(Path(path).read_text())]
        return render_rules(self.rules)

    # -- building the request ---------------------------------------------------------------------------
    @staticmethod
    def _example(row: dict, output_column: str, feedback_columns: list[str]) -> str:
        parts = [
            f"### Example {row.get('instance_id', '')}".rstrip(),
            f"Problem statement:\n{row.get('problem_statement', '')}",
            f"Agent output ({output_column}):\n{row.get(output_column) or '(empty)'}",
        ]
        parts += [f"{column}:\n{row.get(column, '')}" for column in feedback_columns]
        return "\n\n".join(parts)

    def _messages(self, current: str, examples: list[str], prompt_mode: bool) -> list[dict]:
        target = "prompt" if prompt_mode else "ruleset"
        if self.mode == "delta" and not prompt_mode:
            shown = "".join(f"[{r.id}] {r.text}\n    record: {r.record()}\n" for r in self.rules) or "(no rules yet)"
            task = DELTA_TASK
        else:
            shown = current.strip() or f"(empty: no {target} yet)"
            task = REWRITE_TASK
        variables = ["{" + v + "}" for v in sorted(set(TEMPLATE_VARIABLE.findall(current)))] if prompt_mode else []
        values = {
            "<<BASELINE>>": "(the prompt itself is what you rewrite; see below)" if prompt_mode else self.prompt,
            "<<TARGET_NAME>>": target,
            "<<CURRENT>>": shown,
            "<<EXAMPLES>>": "\n\n".join(examples),
            "<<MAX_CHARS>>": str(self.max_ruleset_chars),
            "<<MAX_TOKENS>>": str(self.max_ruleset_tokens or "no limit of"),
            "<<VARIABLES>>": f"- Keep these template variables exactly as written: {', '.join(variables)}\n"
            if variables
            else "",
            "<<TRIED>>": "" if prompt_mode else tried_section(self.tried),
        }
        # One pass over the template: text from the data (patches with braces, code) is inserted as is
        # and never scanned for placeholders again.
        text = re.sub(
            "|".join(re.escape(k) for k in values), lambda m: values[m.group(0)], META_PROMPT.replace("<<TASK>>", task)
        )
        return [{"role": "user", "content": text}]

    # -- calling and reading the answer ----------------------------------------------------------------
    def _call(
        self, batch: int, messages: list[dict], current: str, batch_ids: list[str], prompt_mode: bool, answer: int
    ) -> str:
        delta = self.mode == "delta" and not prompt_mode
        reply = self.client.chat(
            messages,
            response_format=DELTA_SCHEMA if delta else None,
            max_tokens=answer,
            reasoning_effort=self.reasoning_effort,
        )
        call = OptimizerCall(
            batch,
            len(batch_ids),
            count_message_tokens(messages, self.model),
            messages[0]["content"],
            reply.text,
            reply.prompt_tokens,
            reply.completion_tokens,
            reply.cost_usd,
            loop=self.loop,
            reasoning_tokens=reply.reasoning_tokens,
            cached_tokens=reply.cached_tokens,
            answer_tokens=answer,
            attempts=reply.attempts,
        )
        self.calls.append(call)
        if delta:
            return self._apply_delta(call, reply, batch_ids)
        new, problem = self._read_rewrite(reply.text, reply.finish_reason, current, prompt_mode)
        if problem:
            call.kept_previous, call.warning = True, problem
            warnings.warn(f"optimizer batch {batch}: {problem}; keeping the previous ruleset", stacklevel=3)
            return current
        return new

    def _read_rewrite(self, text: str, finish_reason: str, current: str, prompt_mode: bool) -> tuple[str, str]:
        if finish_reason == "length":
            return "", "the reply was cut at the output limit"
        # from the first <ruleset> to the LAST </ruleset>: a rule that mentions the tag is kept whole
        match = re.search(r"<ruleset>(.*)</ruleset>", text or "", re.S)
        if not match:
            return "", "no <ruleset>…</ruleset> in the reply"
        new = match.group(1).strip("\n")
        if "</ruleset>" in new:
            warnings.warn(
                "the reply holds </ruleset> more than once; the ruleset is everything up to the last one",
                stacklevel=4,
            )
        if not new.strip():
            return "", "the reply's ruleset is empty"
        if prompt_mode:
            lost = set(TEMPLATE_VARIABLE.findall(current)) - set(TEMPLATE_VARIABLE.findall(new))
            if lost:
                return "", f"the new prompt lost template variable(s) {', '.join(sorted(lost))}"
        kept = cap_lines(new, self.max_ruleset_tokens, self.max_ruleset_chars, self.model)
        if kept != new:
            warnings.warn(
                f"the new ruleset had {len(new)} characters; kept the first {len(kept)} (max_ruleset_tokens="
                f"{self.max_ruleset_tokens}, max_ruleset_chars={self.max_ruleset_chars})",
                stacklevel=4,
            )
            new = kept
        return new.strip("\n") + "\n", ""

    def _apply_delta(self, call: OptimizerCall, reply, batch_ids: list[str]) -> str:
        call.report, self._notes = self._notes, []  # the rules dropped before the first call of this optimize()
        try:
            answer = json.loads(reply.text)
            operations, effects = answer["operations"], answer.get("effects", [])
        except (ValueError, KeyError, TypeError) as e:
            call.kept_previous, call.warning = True, f"unparseable operations ({e})"
            warnings.warn(f"optimizer batch {call.batch}: {call.warning}; keeping the previous ruleset", stacklevel=3)
            return render_rules(self.rules)
        effects = [] if self._verdicts else effects  # the judge's verdicts, when there are some, are the evidence
        call.report += apply_operations(self.rules, operations, effects, self.loop, batch_ids)
        call.report += merge_near_duplicates(self.rules, self.merge_threshold)
        call.report += fit_rules(self.rules, self.max_ruleset_tokens, self.max_ruleset_chars, self.model)
        for line in call.report:
            if line.startswith(("ignored", "dropped")):
                warnings.warn(f"optimizer batch {call.batch}: {line}", stacklevel=3)
        return render_rules(self.rules)
