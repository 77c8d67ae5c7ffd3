"""phoenix_experiments: datasets, one experiment per loop and split, each ruleset a Prompt version, traces.

    url = ensure_phoenix()                                  # a remote Phoenix by env var, else a local one
    train_ds, test_ds = create_datasets(train, test, "cline-act")
    log_ruleset_version(url, api_key, run, loop, ruleset, results)      # the ruleset the loop ran, scored
    log_learned_ruleset(url, api_key, run, ruleset)          # after the last loop: what it learned, unscored
    log_experiment_to_phoenix(url, api_key, train_ds, "loop-0-train", train_results, metadata)
    phoenix_links(url, api_key, run_name, datasets)         # experiments pages, loop comparison, Prompt

The notebook holds a run's Phoenix in one object, `PhoenixLog.start(run)` (made with the URL and the run's
datasets once; falsy, and logging nothing, with `PHOENIX = False`), whose methods call the functions above:

    phoenix = PhoenixLog.start(run)             # ensure_phoenix, trace_llm_calls, create_dataset per split
    with phoenix.feed(loop, ruleset) as feed: ...                     # rows logged as run_act scores them
    phoenix.log_ruleset_version(loop, ruleset, results)
    log_experiment_to_phoenix(**phoenix.experiment(loop, "train", train_results, ruleset))

Without `PHOENIX_COLLECTOR_ENDPOINT` / `PHOENIX_HOST` (and `PHOENIX_API_KEY`), `ensure_phoenix()` starts
`phoenix serve` bound to 127.0.0.1 on a free port with its sqlite working directory under the cookbook
dir, records it in `server.json`, and later cells and processes reuse it; `stop_phoenix()` stops it.

Logging is idempotent: an experiment is found again by dataset and name, a Prompt version by its loop and
text, and only the runs, traces and evaluations that are missing are added, so a call that failed
half-way (Phoenix down) can simply be repeated. The results themselves are already on disk before
anything is sent here. The pieces Phoenix shows are built in `cookbook/phoenix/`.
"""

from __future__ import annotations

import os
import threading
import warnings
from typing import TYPE_CHECKING

import httpx
import pandas as pd

from cookbook.agents import agent_api
from cookbook.loop.selection import select_best
from cookbook.phoenix import rest
from cookbook.phoenix.prompts import (
    RulesetVersion,
    linked_version,
    log_version,
    prompt_id,
    prompt_name,
    selection,
    tag_exported,
    versions_url,
)
from cookbook.phoenix.runs import experiment_description, log_rows, open_experiment
from cookbook.phoenix.scores import split_score, usage
from cookbook.phoenix.server import PhoenixUnavailable, ensure_phoenix, remote_phoenix_url, stop_phoenix
from cookbook.stats import accuracy

__all__ = [
    "ExperimentFeed",
    "PhoenixLog",
    "PhoenixUnavailable",
    "create_dataset",
    "create_datasets",
    "ensure_phoenix",
    "log_experiment_to_phoenix",
    "log_learned_ruleset",
    "log_ruleset_version",
    "phoenix_client",
    "phoenix_links",
    "remote_phoenix_url",
    "stop_phoenix",
    "tag_exported_ruleset",
    "trace_llm_calls",
]

if TYPE_CHECKING:
    from cookbook.loop import OptimizationRun
    from cookbook.loop.transfer import TransferTable


def phoenix_client(hostname: str | None = None, api_key: str | None = None):
    from phoenix.client import Client

    url, key = hostname or ensure_phoenix(), api_key or os.environ.get("PHOENIX_API_KEY")
    return Client(http_client=rest(url, key, timeout=httpx.Timeout(30, connect=10)))  # what it sends is scrubbed


# -- datasets ------------------------------------------------------------------------------------------
def create_dataset(client, name: str, instances: pd.DataFrame):
    """Upload instances as a dataset (`problem_statement` as input; `instance_id`, `repo`, `test_patch` as
    metadata). A dataset of that name with the same content is reused, not duplicated."""
    frame = instances[["problem_statement", "instance_id", "repo", "test_patch"]].reset_index(drop=True)
    wanted = {(r["instance_id"], r["problem_statement"]) for r in frame.to_dict("records")}
    try:
        existing = client.datasets.get_dataset(dataset=name)
    except Exception:
        existing = None
    if existing is not None:
        have = {(ex["metadata"].get("instance_id"), ex["input"].get("problem_statement")) for ex in existing.examples}
        if have == wanted:
            return existing
    return client.datasets.create_dataset(
        name=name,
        dataframe=frame,
        input_keys=["problem_statement"],
        metadata_keys=["instance_id", "repo", "test_patch"],
        dataset_description="SWE-bench-format instances (prompt-learning cookbook)",
    )


def create_datasets(
    train: pd.DataFrame, test: pd.DataFrame, name: str, hostname: str | None = None, api_key: str | None = None
):
    """The train and test datasets, named `<name>-train` and `<name>-test`."""
    client = phoenix_client(hostname, api_key)
    return create_dataset(client, f"{name}-train", train), create_dataset(client, f"{name}-test", test)


# -- experiments ---------------------------------------------------------------------------------------
def _unavailable(what: str, call: str, error: Exception) -> PhoenixUnavailable:
    return PhoenixUnavailable(
        f"Could not log {what} to Phoenix ({type(error).__name__}: {error}). The results are on disk; "
        f"call {call} again when Phoenix is back — it adds only what is missing."
    )


def log_experiment_to_phoenix(
    hostname: str | None,
    api_key: str | None,
    dataset_obj,
    experiment_name: str,
    experiment_df: pd.DataFrame,
    metadata: dict | None = None,
) -> dict:
    """Log precomputed results as a Phoenix experiment (the cookbook's call); return a summary with the
    experiment id and URL, its description, the runs logged now, and the instances not in the dataset.

    One run per row: output = the agent's patch (`cline_patch`), the row's real start and end times, a
    trace of the run (the agent's LLM calls from the gateway's transcript with model and tokens, the
    judge's call beside them), the harness result as a CODE evaluation `pass_or_fail` (score 1/0, failing
    tests as explanation; none for an infrastructure error, which is the run's error) and, where present,
    the judge's `correctness` + `explanation` as an LLM evaluation. The description names the loop, the
    split and the ruleset's Prompt version (see `log_ruleset_version`); the metadata is yours plus the
    accuracy over scored rows with its Wilson interval, the error count, tokens and cost. Calling it again
    logs only what is missing.
    """
    url = hostname or ensure_phoenix()
    client = phoenix_client(url, api_key)
    try:
        examples = {ex["metadata"].get("instance_id"): ex["id"] for ex in dataset_obj.examples}
        rows = experiment_df.to_dict("records")
        unknown = sorted({r["instance_id"] for r in rows} - set(examples))
        if unknown:
            warnings.warn(
                f"{len(unknown)} row(s) of {experiment_name} are not in dataset {dataset_obj.name}: "
                f"{', '.join(unknown[:10])}",
                stacklevel=2,
            )
        rows = [r for r in rows if r["instance_id"] in examples]
        frame = pd.DataFrame(rows, columns=experiment_df.columns)
        score = split_score(frame)
        meta = {**(metadata or {}), "size": len(rows), **score.as_dict(), **usage(frame)}
        repetitions = max([int(r.get("attempt") or 0) + 1 for r in rows] + [1])
        with rest(url, api_key) as http:
            version = linked_version(http, url, meta)
            meta["prompt_version_id"] = version["id"] if version else None
            description = experiment_description(meta, score, version)
            experiment, logged, evaluated = open_experiment(
                client, http, dataset_obj, experiment_name, description, meta, repetitions
            )
            judge_model = str(meta.get("judge_model") or "")
            new_runs = log_rows(client, http, experiment, examples, rows, logged, evaluated, judge_model)
    except httpx.HTTPError as e:
        raise _unavailable(experiment_name, "log_experiment_to_phoenix", e) from e
    return {
        "experiment_id": experiment["id"],
        "experiment_name": experiment_name,
        "description": description,
        "runs_logged": new_runs,
        "unknown_instances": unknown,
        "metadata": meta,
        "url": client.experiments.get_experiment_url(dataset_obj.id, experiment["id"]),
    }


# -- rulesets ------------------------------------------------------------------------------------------
def log_ruleset_version(
    hostname: str | None,
    api_key: str | None,
    run: OptimizationRun,
    loop: int,
    ruleset: str,
    results: dict[str, pd.DataFrame],
) -> dict:
    """Log the ruleset `loop` ran as a version of the run's Prompt (one Prompt per run, named after it):
    the agent's base prompt with the ruleset, tagged `loop-<loop>`, described by the scores it earned
    (`results`: {split: rows}; accuracy over scored rows with its Wilson interval) and the selection
    verdict over the loops known so far (`select_best`), and the selection policy's choice in this loop
    when `run.select` made it (the candidate the next ruleset grows from, every candidate's score); the tag
    `best` moves to the selected loop.
    Call it before logging the loop's experiments, whose descriptions then name this version. Logging
    the same loop again adds nothing. Returns the Prompt, the version id and its URL, and the verdict."""
    url = hostname or ensure_phoenix()
    c = run.config
    ran = {split: df for split, df in results.items() if df is not None}
    choice = run.selection_metadata(loop)
    best, chosen_on, verdict = selection(run.history, loop, {split: accuracy(df) for split, df in ran.items()}, choice)
    shas = [s for df in ran.values() if "ruleset_sha" in df for s in df["ruleset_sha"].dropna().astype(str)]
    version = RulesetVersion(
        c.run_name,
        loop,
        c.baseline_prompt,
        ruleset,
        c.agent_model,
        _provider(c),
        {split: split_score(df) for split, df in ran.items()},
        best,
        chosen_on,
        verdict,
        shas[0] if shas else "",
        choice,
    )
    return _log(url, api_key, version, f"the ruleset of loop {loop}", "log_ruleset_version") | {"verdict": verdict}


def _log(url: str, api_key: str | None, version: RulesetVersion, what: str, call: str) -> dict:
    """Log a version of the run's Prompt; its Prompt, ids, tag and URL (PhoenixUnavailable when it cannot)."""
    name = prompt_name(version.run_name)
    try:
        with rest(url, api_key) as http:
            stored, created = log_version(http, version)
            pid = prompt_id(http, name)
    except httpx.HTTPError as e:
        raise _unavailable(what, call, e) from e
    tag = "learned" if version.learned else f"loop-{version.loop}"
    summary = {"prompt": name, "prompt_id": pid, "version_id": stored["id"], "tag": tag, "created": created}
    return summary | {"url": versions_url(url, pid, stored["id"])}


def log_learned_ruleset(hostname: str | None, api_key: str | None, run: OptimizationRun, ruleset: str) -> dict:
    """Log the ruleset the run's last finished loop learned — the one it hands over, which no loop has run —
    as a version of the run's Prompt, tagged `learned` and described as not yet scored (the version of the
    loop that would run it: `loop-<last + 1>` is given to it only when that loop runs and scores it).
    Logging it again adds nothing. Returns the Prompt, the version id and its URL."""
    url = hostname or ensure_phoenix()
    c, history = run.config, run.history
    last = int(history["loop"].max())
    grown_from = history.loc[history["loop"] == last, "grown_from"].iloc[0] if "grown_from" in history else last
    best = select_best(history)
    chosen_on = "validation" if len(run.splits["validation"]) else "train"
    verdict = f"grown from loop {grown_from}'s ruleset; loop {best} is best so far on {chosen_on}"
    provider = _provider(c)
    version = RulesetVersion(
        *(c.run_name, last + 1, c.baseline_prompt, ruleset, c.agent_model, provider, {}, best, chosen_on, verdict),
        learned=True,
    )
    return _log(url, api_key, version, f"the ruleset learned in loop {last}", "log_learned_ruleset")


def tag_exported_ruleset(
    hostname: str | None, api_key: str | None, run_name: str, loop: int, where: str
) -> dict | None:
    """Tag `exported` the version of the run's Prompt that holds the ruleset loop `loop` ran — the one
    `python -m cookbook export` wrote `where` (the tag moves from an earlier export). Returns the version's
    ids and URL, or None when the run logged no such version (it ran with PHOENIX = False)."""
    url = hostname or ensure_phoenix()
    name = prompt_name(run_name)
    try:
        with rest(url, api_key) as http:
            version = tag_exported(http, run_name, loop, f"exported to {where}")
            pid = prompt_id(http, name) if version else None
    except httpx.HTTPError as e:
        raise _unavailable(f"the export of loop {loop}", "tag_exported_ruleset", e) from e
    if version is None:
        return None
    return {
        "prompt": name,
        "version_id": version["id"],
        "tag": "exported",
        "url": versions_url(url, pid, version["id"]),
    }


def phoenix_links(hostname: str, api_key: str | None, run_name: str, datasets: dict) -> dict[str, str]:
    """Where to look in Phoenix for a run: each dataset's experiments page, the comparison of the run's
    last two loops on each split (and of each transfer agent without and with the rules), and the versions
    page of the run's ruleset Prompt."""
    client = phoenix_client(hostname, api_key)
    links = {}
    for split, dataset in datasets.items():
        links[f"experiments ({split})"] = client.experiments.get_dataset_experiments_url(dataset.id)
        experiments = client.experiments.list(dataset_id=dataset.id)
        ours = [e for e in experiments if (e.get("metadata") or {}).get("run_name") == run_name]
        loops = sorted(
            (e for e in ours if "transfer" not in e["metadata"]), key=lambda e: e["metadata"].get("loop", -1)
        )
        pairs = []
        if len(loops) >= 2:  # the base experiment first, as Phoenix's compare view reads them
            before, after = loops[-2:]
            pairs.append(
                (f"loop {before['metadata'].get('loop')} with loop {after['metadata'].get('loop')}", before, after)
            )
        transfers = {
            (e["metadata"]["agent"], e["metadata"]["transfer"]): e for e in ours if "transfer" in e["metadata"]
        }
        for agent in sorted({agent for agent, _ in transfers}):  # another agent without the rules, then with them
            if (agent, "empty") in transfers and (agent, "ruleset") in transfers:
                pairs.append(
                    (f"{agent} without and with the rules", transfers[agent, "empty"], transfers[agent, "ruleset"])
                )
        for what, before, after in pairs:
            query = f"experimentId={before['id']}&experimentId={after['id']}"
            links[f"compare {what} ({split})"] = f"{hostname.rstrip('/')}/datasets/{dataset.id}/compare?{query}"
    with rest(hostname, api_key) as http:
        pid = prompt_id(http, prompt_name(run_name))
    if pid:
        links[f"ruleset versions (Prompt {prompt_name(run_name)})"] = versions_url(hostname, pid)
    return links


# -- traces --------------------------------------------------------------------------------------------
_instrumented: dict[str, object] = {}


def trace_llm_calls(project_name: str = "prompt-learning", hostname: str | None = None, api_key: str | None = None):
    """Trace every call of the `openai` client (the judge's, the optimizer's) into a Phoenix project
    through OpenInference instrumentation. Idempotent; returns the tracer provider."""
    if project_name in _instrumented:
        return _instrumented[project_name]
    from openinference.instrumentation.openai import OpenAIInstrumentor
    from phoenix.otel import register

    endpoint = f"{hostname or ensure_phoenix()}/v1/traces"
    provider = register(
        endpoint=endpoint,
        project_name=project_name,
        batch=False,
        set_global_tracer_provider=False,
        verbose=False,
        protocol="http/protobuf",
        headers={"authorization": f"Bearer {api_key}"} if api_key else None,
    )
    instrumentor = OpenAIInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    instrumentor.instrument(tracer_provider=provider)
    _instrumented.clear()
    _instrumented[project_name] = provider
    return provider


class ExperimentFeed:
    """Logs a loop's rows to their Phoenix experiments while the agent runs go on: give `on_row` to run_act
    (`on_row=feed.on_row`) and every few seconds a background thread logs the rows that arrived since
    (`log_experiment_to_phoenix` adds only what is missing), so a long loop fills Phoenix as it runs. The
    loop's own `log_experiment_to_phoenix` calls afterwards add the judgements (and the judge's span to each
    run's trace) and the final summary. A failed flush, whatever its error, is warned about once and tried
    again at the next one: live logging never ends silently. A feed with no Phoenix (`hostname` None) does
    nothing. Use it as a context manager."""

    def __init__(
        self, hostname: str | None, api_key: str | None, datasets: dict, run: OptimizationRun, loop: int, ruleset: str
    ):
        self.phoenix = PhoenixLog(run, hostname, api_key, datasets)  # where, and the experiments' names and metadata
        self.loop, self.ruleset = loop, ruleset
        self.every_s = 5.0
        self.rows: dict[str, list[dict]] = {}
        self.logged: dict[str, int] = {}
        self._lock = threading.Lock()  # rows arrive from run_act's workers while the thread reads them
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def on_row(self, split: str, row: dict) -> None:
        if self.phoenix and split in self.phoenix.datasets:
            with self._lock:
                self.rows.setdefault(split, []).append(row)

    def flush(self) -> None:
        with self._lock:
            arrived = {split: list(rows) for split, rows in self.rows.items()}
        for split, rows in arrived.items():
            if len(rows) > self.logged.get(split, 0):
                df = pd.DataFrame(rows)
                log_experiment_to_phoenix(**self.phoenix.experiment(self.loop, split, df, self.ruleset))
                self.logged[split] = len(df)

    def _loop(self) -> None:
        warned = set()
        while not self._stop.wait(self.every_s):
            try:
                self.flush()
            except Exception as e:  # the next flush, and the loop's own calls at its end, add what is missing
                said = str(e) if isinstance(e, PhoenixUnavailable) else f"{type(e).__name__}: {e}"
                if said not in warned:
                    warned.add(said)
                    warnings.warn(f"Phoenix live logging: {said} (it goes on; nothing is lost)", stacklevel=1)

    def __enter__(self) -> ExperimentFeed:
        if self.phoenix:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


class PhoenixLog:
    """A run's Phoenix, as the notebook logs to it: where it is (`url`, `api_key`), the run's datasets (one per
    split that has instances), and what a loop logs there, each method one of this module's functions called
    with those. `PhoenixLog.start(run)` makes it once; with Phoenix off (`config.phoenix` False, no `url`) it
    is falsy and its methods log nothing (they never start a Phoenix)."""

    def __init__(self, run: OptimizationRun, url: str | None = None, api_key: str | None = None, datasets=None):
        self.run, self.url, self.api_key = run, url, api_key
        self.datasets: dict = datasets or {}

    @classmethod
    def start(cls, run: OptimizationRun) -> PhoenixLog:
        """With `run.config.phoenix`: a Phoenix running (`ensure_phoenix`: a remote one by env var, else the
        local one), the judge's and the optimizer's calls traced into the project `<run>-llm-calls`, and a dataset
        `<run>-<split>` per split that has instances. Without: one that logs nothing."""
        if not run.config.phoenix:
            return cls(run)
        url, name = ensure_phoenix(), run.config.run_name
        trace_llm_calls(f"{name}-llm-calls", url)
        client = phoenix_client(url)
        datasets = {split: create_dataset(client, f"{name}-{split}", df) for split, df in run.splits.items() if len(df)}
        return cls(run, url, None, datasets)

    def __bool__(self) -> bool:
        return bool(self.url)

    # -- a loop's experiments ---------------------------------------------------------------------------
    def experiment_name(self, loop: int, split: str) -> str:
        return f"{self.run.config.run_name} loop {loop} {split}"

    def experiment_metadata(self, loop: int, split: str, df: pd.DataFrame, ruleset: str) -> dict:
        """What a loop's experiment records besides its rows. `run_name`, `loop` and `ruleset_sha` link it
        to the ruleset's Prompt version; `judge_model` names the judge's calls in its traces.
        `log_experiment_to_phoenix` adds the accuracy (over scored rows, with its interval), the error
        count, tokens and cost."""
        c = self.run.config
        return {
            "run_name": c.run_name,
            "loop": loop,
            "split": split,
            "agent": c.agent,
            "model": c.agent_model,
            "judge_model": c.judge_model,
            "ruleset_sha": str(df["ruleset_sha"].iloc[0]) if len(df) else "",
            "ruleset": ruleset,
            **self.run.selection_metadata(loop),
        }

    def experiment(self, loop: int, split: str, df: pd.DataFrame, ruleset: str) -> dict:
        """`log_experiment_to_phoenix`'s arguments for `split`'s rows `df` of `loop`, which ran `ruleset`:
        this Phoenix, the split's dataset, the experiment `<run> loop <loop> <split>` and its metadata."""
        return dict(
            hostname=self.url,
            api_key=self.api_key,
            dataset_obj=self.datasets[split],
            experiment_name=self.experiment_name(loop, split),
            experiment_df=df,
            metadata=self.experiment_metadata(loop, split, df, ruleset),
        )

    def feed(self, loop: int, ruleset: str) -> ExperimentFeed:
        """The loop's rows logged as they arrive (`ExperimentFeed`; with Phoenix off it does nothing)."""
        return ExperimentFeed(self.url, self.api_key, self.datasets, self.run, loop, ruleset)

    # -- the rulesets ------------------------------------------------------------------------------------
    def log_ruleset_version(self, loop: int, ruleset: str, results: dict[str, pd.DataFrame]) -> dict | None:
        """The ruleset `loop` ran, a version of the run's Prompt beside its scores (`log_ruleset_version`)."""
        return log_ruleset_version(self.url, self.api_key, self.run, loop, ruleset, results) if self else None

    def log_learned_ruleset(self, ruleset: str) -> dict | None:
        """The ruleset the run hands over, tagged `learned`, not yet scored (`log_learned_ruleset`)."""
        return log_learned_ruleset(self.url, self.api_key, self.run, ruleset) if self else None

    def tag_exported(self, loop: int, where: str) -> dict | None:
        """Tag `exported` the version of the ruleset loop `loop` ran (`tag_exported_ruleset`)."""
        return tag_exported_ruleset(self.url, self.api_key, self.run.config.run_name, loop, where) if self else None

    # -- after the loops ---------------------------------------------------------------------------------
    def log_transfer(self, transfer: TransferTable, agent: str, model: str, pair: dict[str, pd.DataFrame]) -> dict:
        """Another agent's runs of the empty ruleset and the chosen one (`pair`), each an experiment on the test
        dataset, `<run> transfer <agent> <empty|ruleset>`, linked to that ruleset's Prompt version (loop 0's
        for the empty one) and naming the agent and its model."""
        logged = {}
        for name, df in pair.items() if self else ():
            ran_in = transfer.loop if name == "ruleset" else 0  # the loop whose Prompt version it is
            metadata = self.experiment_metadata(ran_in, "test", df, transfer.rulesets[name])
            metadata |= {"agent": agent, "model": model, "transfer": name}
            experiment = f"{self.run.config.run_name} transfer {agent} {name}"
            logged[name] = log_experiment_to_phoenix(
                self.url, self.api_key, self.datasets["test"], experiment, df, metadata
            )
        return logged

    def links(self) -> dict[str, str]:
        """Where to look in Phoenix for the run (`phoenix_links`); {} with Phoenix off."""
        return phoenix_links(self.url, self.api_key, self.run.config.run_name, self.datasets) if self else {}


def _provider(c) -> str:
    """The Prompt's model provider: the wire API the run's agent reached its model by, chosen as its endpoint
    chose it (`cookbook.loop.endpoints`: the config's, else `agent_api`)."""
    return (c.agent_api or agent_api(c.agent) or "openai").upper()
