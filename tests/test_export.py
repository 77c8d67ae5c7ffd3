"""A run's learned ruleset where agents read it, and run by other agents, after an offline run of the
notebook with its last section on (EXPORT_TO, TRANSFER_AGENTS): `python -m cookbook export` — the four
formats, the user's own text kept, a second export that changes nothing, the Phoenix version tagged
`exported` —, the real Cline given the exported `.clinerules/` folder in its workspace sending the rules to
the model (the gateway's record), and the transfer table (Cline → Claude Code, Cline → mini-swe-agent)."""

import json
import shutil
import uuid

import pandas as pd
import pytest
from conftest import run_notebook

from cookbook.agents.cline import ClineAgent
from cookbook.cli import main
from cookbook.export import SECTION_BEGIN, SECTION_END, ChosenRuleset, choose_ruleset, export_ruleset, folder_files
from cookbook.llm.gateway import Gateway
from cookbook.llm.messages import system_prompt
from cookbook.llm.transcripts import requests
from cookbook.loop import run_paths
from cookbook.phoenix import rest
from cookbook.phoenix.prompts import list_versions, prompt_name
from cookbook.scripted.server import Reply, ScriptedLLM
from cookbook.seams import AgentTask, ConfigurationError, Endpoint
from cookbook.testbeds.local import LocalTestbed
from phoenix_experiments import phoenix_client

pytestmark = pytest.mark.slow

FILES = {"clinerules": None, "clinerules-file": ".clinerules", "agents": "AGENTS.md", "claude": "CLAUDE.md"}


@pytest.fixture(scope="module")
def notebook_run(phoenix, tmp_path_factory):
    """The notebook offline (scripted models; the agents, the harness and Phoenix real): 2 loops on 2 + 2
    bundled tasks, loop 1's learned rule making Cline fix what it gave up on in loop 0; then its export into a
    folder, and Claude Code and mini-swe-agent with the chosen ruleset and without on the test split."""
    tmp = tmp_path_factory.mktemp("demo")
    name = f"test-export-{uuid.uuid4().hex[:8]}"
    with pytest.MonkeyPatch.context() as env:
        for variable in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
            env.delenv(variable, raising=False)
        env.setenv("PHOENIX_COLLECTOR_ENDPOINT", phoenix)
        parameters = dict(RUN_NAME=name, LOOPS=2, TRAIN_SIZE=2, TEST_SIZE=2, WORKERS=2, EXPORT_TO=str(tmp / "repo"))
        parameters["TRANSFER_AGENTS"] = {"claude-code": None, "mini-swe-agent": None}
        run_notebook(tmp / "executed.ipynb", **parameters, AGENT_RUNS_DIR=str(tmp / "agent_runs"))
        yield name, tmp
    for path in run_paths(name):
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def demo_run(notebook_run):
    return notebook_run[0]


def snapshot(folder):
    return {p: (p.read_text(), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_each_format_names_the_run_the_loop_and_its_held_out_score_and_a_second_export_changes_nothing(
    demo_run, tmp_path, capsys
):
    chosen = choose_ruleset(demo_run)
    assert chosen.loop == 1 and chosen.chosen == "the best on train" and chosen.rules  # loop 0 ran no rules
    assert chosen.test == 1.0 and chosen.paired["accuracy_before"] < 1.0 and chosen.paired["fixed"] >= 1
    for format, file in FILES.items():
        folder = tmp_path / format
        assert main(["export", "--run-name", demo_run, "--format", format, "--to", str(folder), "--no-phoenix"]) == 0
        written = sorted((folder / ".clinerules").glob("*.md")) if file is None else [folder / file]
        text = "".join(p.read_text() for p in written)
        assert f"run `{demo_run}`, loop 1 (the best on train); test accuracy 1.000 (2 of 2 runs scored)" in text
        assert "with no rules on the same 2 instances" in text and "exact McNemar p = " in text
        assert all(f"- {rule}\n" in text for rule in chosen.rules)
        if file is not None:
            assert text.startswith(SECTION_BEGIN) and text.endswith(SECTION_END + "\n")
        before = snapshot(folder)
        capsys.readouterr()
        assert main(["export", "--run-name", demo_run, "--format", format, "--to", str(folder), "--no-phoenix"]) == 0
        assert snapshot(folder) == before  # not even rewritten
        assert "written" not in capsys.readouterr().out


def test_an_existing_agents_md_keeps_the_users_text_and_only_the_section_is_replaced(demo_run, tmp_path):
    agents_md = tmp_path / "AGENTS.md"
    mine = "# My project\n\nUse tabs.\n"
    agents_md.write_text(mine)
    chosen, files = export_ruleset(demo_run, "agents", tmp_path)
    assert files == {agents_md: "written"}
    exported = agents_md.read_text()
    assert exported.startswith(mine + "\n" + SECTION_BEGIN) and chosen.header() in exported
    assert export_ruleset(demo_run, "agents", tmp_path)[1] == {agents_md: "unchanged"}
    assert agents_md.read_text() == exported

    # the user writes below the section, and an older export's rules sit inside it: only they are replaced
    stale = exported.replace(chosen.rules[0], "An old rule.") + "\n## Later notes\nKeep these.\n"
    agents_md.write_text(stale)
    assert export_ruleset(demo_run, "agents", tmp_path)[1] == {agents_md: "written"}
    assert agents_md.read_text() == exported + "\n## Later notes\nKeep these.\n"

    agents_md.write_text(mine + SECTION_BEGIN + "\n- half a section\n")  # the END marker lost
    with pytest.raises(ConfigurationError, match="one of the export's markers without the other"):
        export_ruleset(demo_run, "agents", tmp_path)
    with pytest.raises(ConfigurationError, match="ran no rules"):
        export_ruleset(demo_run, "claude", tmp_path, loop=0)  # the empty ruleset earns no place
    with pytest.raises(ConfigurationError, match="no finished loop 7; its loops: 0, 1"):
        export_ruleset(demo_run, "claude", tmp_path, loop="7")


def test_the_clinerules_folder_has_a_file_per_topic_and_scopes_the_rules_that_name_paths(tmp_path):
    ruleset = (
        "- Run the tests with `python -m pytest tests/` before you finish.\n"
        "- In src/inikit/parser.py, keep the order of sections as read.\n"
        "- Prefer the smallest change that fixes the issue.\n"
    )
    chosen = ChosenRuleset("r", 2, ruleset, "the best on validation", 0.5, 4, 4, None)
    files = folder_files(chosen)
    assert sorted(files) == [
        "prompt-learning-editing.md",
        "prompt-learning-paths-src-inikit-parser-py.md",
        "prompt-learning-testing.md",
    ]
    scoped = files["prompt-learning-paths-src-inikit-parser-py.md"]
    assert scoped.startswith('---\npaths:\n  - "src/inikit/parser.py"\n---\n\n# Rules for src/inikit/parser.py\n')
    assert files["prompt-learning-testing.md"].startswith("# Testing rules\n")  # a command's path scopes nothing


def test_cline_given_the_exported_clinerules_folder_sends_the_rules_to_the_model(demo_run, bundled, tmp_path):
    agent = ClineAgent("scripted-model")
    instance = bundled.to_dict("records")[0]
    testbed = LocalTestbed()
    testbed.check([instance])
    workspace = testbed.prepare(instance)
    try:
        chosen, _ = export_ruleset(demo_run, "clinerules", workspace.path)
        (workspace.path / ".clinerules" / "team.md").write_text("# Team\n\n- Keep CHANGES.rst in order.\n")
        scoped = ChosenRuleset(demo_run, 1, "- In src/inikit/parser.py, keep sections in order.\n", "", 1.0, 2, 2, None)
        for name, text in folder_files(scoped).items():  # a file of the format with `paths:` frontmatter
            (workspace.path / ".clinerules" / name).write_text(text)
        with (
            ScriptedLLM(lambda request: Reply(content="Nothing to do."), models={"scripted-model"}) as llm,
            Gateway(Endpoint(llm.base_url, "sk-test", "scripted-model")) as gateway,
        ):
            url = gateway.register("export", tmp_path / "transcript.jsonl", chosen.ruleset)
            task = AgentTask(instance, workspace, "", Endpoint(url, "via-gateway", "scripted-model"), tmp_path, 180)
            result = agent.run(task)  # no ruleset of its own: only what the folder holds
            stats = gateway.finish("export")
    finally:
        testbed.release(workspace)
    sent = [system_prompt(entry["request"]) for entry in requests(tmp_path / "transcript.jsonl")]
    assert result.status == "completed" and stats.llm_calls == len(sent) >= 1, result.error
    for prompt in sent:  # every rule, the header naming the run, and the user's own rule file beside them
        assert all(rule in prompt for rule in chosen.rules) and demo_run in prompt
        assert "Keep CHANGES.rst in order." in prompt
        assert "keep sections in order" in prompt and "paths:" not in prompt  # its frontmatter read as such


def test_the_exported_ruleset_is_the_phoenix_version_tagged_exported(demo_run, phoenix, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PHOENIX_COLLECTOR_ENDPOINT", phoenix)
    assert main(["export", "--run-name", demo_run, "--format", "agents", "--to", str(tmp_path)]) == 0
    assert "(tagged exported)" in capsys.readouterr().out
    chosen = choose_ruleset(demo_run)
    with rest(phoenix) as http:
        versions = list_versions(http, prompt_name(demo_run))
        tagged = [
            v
            for v in versions
            if "exported" in {t["name"] for t in http.get(f"v1/prompt_versions/{v['id']}/tags").json()["data"]}
        ]
    assert len(tagged) == 1 and tagged[0]["metadata"]["loop"] == chosen.loop
    assert chosen.ruleset.strip() in json.dumps(tagged[0]["template"]) and not tagged[0]["metadata"]["learned"]


def test_the_notebook_exported_the_chosen_ruleset_and_tagged_it_in_phoenix(notebook_run):
    name, tmp = notebook_run
    files = sorted((tmp / "repo" / ".clinerules").glob("prompt-learning-*.md"))
    assert files and all(f"run `{name}`, loop 1" in f.read_text() for f in files)
    executed = (tmp / "executed.ipynb").read_text()
    assert "written: " in executed and "Phoenix: http" in executed  # the version's link, tagged exported


def test_the_transfer_table_pairs_each_agent_with_and_without_the_rules_on_the_same_instances(notebook_run, phoenix):
    name, tmp = notebook_run
    table = pd.read_csv(run_paths(name)[0] / "transfer.csv")
    assert table["agent"].tolist() == ["cline (learned with)", "claude-code", "mini-swe-agent"]
    assert (table["instances"] == 2).all() and (table["errors"] == 0).all() and (table["ruleset_loop"] == 1).all()
    # the offline model fixes the harder task only when the learned rule is in its prompt: so for every agent
    assert (table["ruleset"] > table["empty"]).all() and (table["fixed"] >= 1).all() and (table["broken"] == 0).all()
    assert (table["rules_applied"] == 1.0).all()  # every request of every ruleset run held the rules
    executed = (tmp / "executed.ipynb").read_text()
    assert "claude-code" in executed and "mini-swe-agent" in executed  # the table, shown in the notebook
    assert "compare mini-swe-agent without and with the rules (test): http" in executed  # and where to look
    assert "compare loop 0 with loop 1 (test): http" in executed  # the loops' own comparison, not a transfer's
    client = phoenix_client(phoenix)
    dataset = client.datasets.get_dataset(dataset=f"{name}-test")
    names = {e["name"] for e in client.experiments.list(dataset_id=dataset.id)}
    assert {
        f"{name} transfer {a} {r}" for a in ("claude-code", "mini-swe-agent") for r in ("empty", "ruleset")
    } <= names
