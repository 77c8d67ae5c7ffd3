"""Every ruleset a version of the run's Phoenix Prompt, beside the scores it earned, in a real Phoenix; the
experiments name the version they ran; the notebook's links lead to them."""

import uuid

import httpx
import pandas as pd
import pytest

from cookbook.loop import LoopConfig, OptimizationRun
from cookbook.phoenix import rest
from cookbook.phoenix.prompts import NAME_RULE, list_versions, prompt_name, selection
from cookbook.stats import wilson_interval
from phoenix_experiments import (
    PhoenixLog,
    create_dataset,
    log_experiment_to_phoenix,
    log_ruleset_version,
    phoenix_client,
    phoenix_links,
)

pytestmark = pytest.mark.slow

RULE = "- Run the repository's tests with `python -m pytest` before you finish."


def results(ids: list[str], verdicts: str, sha: str) -> pd.DataFrame:
    """Rows whose pass_or_fail is given as a string: p = pass, f = fail, e = infrastructure error."""
    names = {"p": ("pass", "resolved"), "f": ("fail", "unresolved"), "e": ("", "error")}
    rows = [
        {"instance_id": i, "attempt": 0, "pass_or_fail": names[v][0], "outcome": names[v][1], "ruleset_sha": sha}
        for i, v in zip(ids, verdicts, strict=True)
    ]
    return pd.DataFrame(rows)


def history_row(loop: int, train: pd.DataFrame, test: pd.DataFrame, ruleset: str) -> dict:
    """The row `OptimizationRun.save_loop` keeps for a finished loop (the parts selection reads)."""
    accuracy = {name: float((df["pass_or_fail"] == "pass").mean()) for name, df in (("train", train), ("test", test))}
    return {"loop": loop, "train_accuracy": accuracy["train"], "test_accuracy": accuracy["test"], "ruleset": ruleset}


@pytest.fixture(scope="module")
def run_logged(phoenix, tmp_path_factory):
    """Three loops of a run logged as Prompt versions, then their test experiments: loop 1's rule helps,
    loop 2's does not."""
    tmp = tmp_path_factory.mktemp("run")
    config = LoopConfig(run_name=f"Prompt Test #{uuid.uuid4().hex[:6]}", train_size=3, test_size=3, loops=3)
    run = OptimizationRun(config, tmp / "results", tmp / "rulesets")
    train_ids, test_ids = run.ids("train"), run.ids("test")
    loops = [
        ("", results(train_ids, "pff", "sha0"), results(test_ids, "ffe", "sha0")),
        (RULE, results(train_ids, "ppf", "sha1"), results(test_ids, "ppf", "sha1")),
        (RULE + "\n- Never edit tests.", results(train_ids, "pff", "sha2"), results(test_ids, "pff", "sha2")),
    ]
    client = phoenix_client(phoenix)
    dataset = create_dataset(client, f"{prompt_name(config.run_name)}-test", run.splits["test"])
    log = PhoenixLog(run, phoenix, None, {"test": dataset})  # the experiments' names and metadata
    logged = []
    for loop, (ruleset, train, test) in enumerate(loops):
        version = log_ruleset_version(phoenix, None, run, loop, ruleset, {"train": train, "test": test})
        meta = log.experiment_metadata(loop, "test", test, ruleset)
        experiment = log_experiment_to_phoenix(phoenix, None, dataset, log.experiment_name(loop, "test"), test, meta)
        logged.append((version, experiment))
        run.rows.append(history_row(loop, train, test, ruleset))
    return dict(run=run, loops=loops, logged=logged, dataset=dataset)


def test_prompt_names_are_the_run_names_within_phoenixs_rule(phoenix):
    assert prompt_name("Offline Demo #1") == "offline-demo-1"
    assert prompt_name("lite_1") == "lite_1" and prompt_name("--x--") == "x" and prompt_name("###") == "ruleset"
    for name in ("Offline Demo #1", "_lite.v2_", "SWE-bench/Lite 150"):
        assert NAME_RULE.match(prompt_name(name))


def test_each_loop_is_one_version_of_the_runs_prompt_with_its_ruleset_and_scores(phoenix, run_logged):
    run, loops, logged = run_logged["run"], run_logged["loops"], run_logged["logged"]
    with rest(phoenix) as http:
        versions = list(reversed(list_versions(http, prompt_name(run.config.run_name))))  # oldest first
        tags = [{t["name"] for t in http.get(f"v1/prompt_versions/{v['id']}/tags").json()["data"]} for v in versions]
    assert [v["id"] for v in versions] == [version["version_id"] for version, _ in logged]
    assert tags == [{"loop-0"}, {"loop-1", "best"}, {"loop-2"}]
    for version, (ruleset, train, test) in zip(versions, loops, strict=True):
        text = version["template"]["messages"][0]["content"]
        assert text.startswith(run.config.baseline_prompt) and text.rstrip().endswith(
            ruleset or "(empty: no rules yet)"
        )
        for split, df in (("train", train), ("test", test)):
            k, n = int((df["pass_or_fail"] == "pass").sum()), int(df["pass_or_fail"].isin(["pass", "fail"]).sum())
            low, high = wilson_interval(k, n)
            stored = version["metadata"]["scores"][split]
            assert (stored["passed"], stored["scored"], stored["accuracy_low"], stored["accuracy_high"]) == (
                k,
                n,
                round(low, 4),
                round(high, 4),
            )
    assert versions[0]["metadata"]["scores"]["test"]["infrastructure_errors"] == 1
    assert [v["metadata"]["verdict"] for v in versions] == [
        "best so far on train",
        "best so far on train",
        "not selected: loop 1 stays best on train",
    ]
    assert "test 0/2 = 0.00" in versions[0]["description"] and "1 infrastructure error" in versions[0]["description"]


def test_logging_a_loop_again_adds_no_version(phoenix, run_logged):
    run, loops = run_logged["run"], run_logged["loops"]
    ruleset, train, test = loops[1]
    again = log_ruleset_version(phoenix, None, run, 1, ruleset, {"train": train, "test": test})
    assert again["created"] is False and again["version_id"] == run_logged["logged"][1][0]["version_id"]
    with rest(phoenix) as http:
        assert len(list_versions(http, prompt_name(run.config.run_name))) == 3


def test_each_experiment_names_the_version_of_the_ruleset_it_ran(phoenix, run_logged):
    client = phoenix_client(phoenix)
    for version, experiment in run_logged["logged"]:
        stored = client.experiments.get(experiment_id=experiment["experiment_id"])
        assert stored["metadata"]["prompt_version_id"] == version["version_id"]
        assert version["version_id"] in stored["description"] and version["url"] in stored["description"]
        assert f"version loop-{stored['metadata']['loop']}" in stored["description"]
    first = client.experiments.get(experiment_id=run_logged["logged"][0][1]["experiment_id"])
    assert (first["metadata"]["infrastructure_errors"], first["metadata"]["scored"]) == (1, 2)


def test_the_links_lead_to_the_experiments_the_comparison_of_the_last_two_loops_and_the_prompt(phoenix, run_logged):
    run, dataset, logged = run_logged["run"], run_logged["dataset"], run_logged["logged"]
    links = phoenix_links(phoenix, None, run.config.run_name, {"test": dataset})
    last, before = logged[2][1]["experiment_id"], logged[1][1]["experiment_id"]
    assert links["experiments (test)"] == f"{phoenix}/datasets/{dataset.id}/experiments"
    assert links["compare loop 1 with loop 2 (test)"].endswith(f"compare?experimentId={before}&experimentId={last}")
    versions_page = links[f"ruleset versions (Prompt {prompt_name(run.config.run_name)})"]
    assert versions_page == logged[0][0]["url"].rsplit("/", 1)[0]
    assert all(httpx.get(url, timeout=30).status_code == 200 for url in links.values())
    assert PhoenixLog(run, phoenix, None, {"test": dataset}).links() == links  # the notebook's


def test_the_notebooks_phoenix_log_gives_the_cards_call_its_arguments_and_logs_nothing_when_off(
    phoenix, run_logged, tmp_path
):
    run, dataset, (ruleset, _, test) = run_logged["run"], run_logged["dataset"], run_logged["loops"][1]
    log = PhoenixLog(run, phoenix, None, {"test": dataset})
    arguments = log.experiment(1, "test", test, ruleset)
    assert arguments["experiment_name"] == f"{run.config.run_name} loop 1 test" and arguments["dataset_obj"] is dataset
    meta = arguments["metadata"]
    assert (meta["loop"], meta["split"], meta["ruleset_sha"], meta["ruleset"]) == (1, "test", "sha1", ruleset)
    again = log_experiment_to_phoenix(**arguments)  # the experiment the fixture logged, found again: nothing added
    assert again["experiment_id"] == run_logged["logged"][1][1]["experiment_id"] and again["runs_logged"] == 0

    config = LoopConfig(run_name=f"off-{uuid.uuid4().hex[:6]}", train_size=2, test_size=1, phoenix=False)
    off = PhoenixLog.start(OptimizationRun(config, tmp_path / "results", tmp_path / "rulesets"))
    assert not off and off.url is None and off.datasets == {}
    assert [off.log_ruleset_version(0, "", {}), off.log_learned_ruleset(""), off.tag_exported(0, "here")] == [None] * 3
    assert off.links() == {} and off.log_transfer(None, "claude-code", "m", {"empty": test}) == {}
    with off.feed(0, "") as feed:
        feed.on_row("train", test.iloc[0].to_dict())
    assert feed.rows == {} and not feed._thread.is_alive()


def test_selection_is_made_on_validation_when_there_is_one():
    history = pd.DataFrame(
        [
            {"loop": 0, "train_accuracy": 0.9, "validation_accuracy": 0.5},
            {"loop": 1, "train_accuracy": 0.2, "validation_accuracy": 0.7},
        ]
    )
    assert selection(history, 2, {"train": 1.0, "validation": 0.6}) == (
        1,
        "validation",
        "not selected: loop 1 stays best on validation",
    )
    assert selection(history, 2, {"train": 0.0, "validation": 0.8})[2] == "best so far on validation"
    assert selection(history.iloc[0:0], 0, {"train": 0.0})[2] == "best so far on train"
