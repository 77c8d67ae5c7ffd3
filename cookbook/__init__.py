"""The cookbook's support package. The user's card — `run_act.py`, `evaluate.py`, `optimizer.py`,
`phoenix_experiments.py` and the notebook — sits at the top of the repository; everything they stand on
is here, one folder per kind of part. Start with `seams.py`: the protocols the parts meet at. Folders import
each other one way only (`tests/test_structure.py` refuses a cycle): a piece several folders share sits below
them all, in a folder or module of its own (issue 25 moved grading.py, workspaces/, scripted/ there).
Each seam has one registry, name → class, that everything listing names reads: AGENT_CLASSES
(agents/), TESTBED_CLASSES (testbeds/), HARNESS_CLASSES (harnesses/). An agent declares its own wire API
(`api`), a harness the testbed its agents run in (`testbed`); `assembly.py` puts the three together for
run_act and the preflight. Adding an agent is one file and one line in AGENT_CLASSES.

    seams.py        Agent, Testbed (and its Sandbox), Harness, Endpoint, and the records that cross them
    agents/         Cline, Claude Code, mini-swe-agent, Cline in a Modal sandbox (the registry: AGENT_CLASSES)
    testbeds/       where an agent runs: a local checkout + virtualenv, an instance image's /testbed; the
                    sandbox its processes live in (the instance's container, namespaces of their own)
    workspaces/     a checkout at the base commit and its diff, a virtualenv per repository and version:
                    the testbeds', the local harness's, the images' (moved out of testbeds/)
    harnesses/      patch → outcome: local (no Docker), SWE-bench's run_evaluation (docker), Modal sandboxes
    grading.py      a patch applied and a test log read as SWE-bench does: the harnesses', the judge's,
                    Phoenix's and mining's (moved up from harnesses/: used by five modules outside it)
    images/         instance images for rows without them (Debian base, environment, instance), eval scripts
    llm/            an endpoint per role, the judge's and optimizer's client, what is known of models
                    (reasoning, limits) and their prices, tokens, the recording gateway and its transcripts
    scripted/       the scripted server (the only test double) and the offline demo's script (moved out of
                    llm/; the three roles' endpoints, which start the demo's server, are loop/endpoints.py)
    data/           datasets, splits, the bundled benchmark, repository mirrors
    mining/         SWE-bench tasks mined from a repository's history, kept when their tests say so
    loop/           the optimization run: configuration, the three roles' endpoints (offline: the demo's),
                    files and candidates, stop rules (stopping.py) and selection policies (selection.py; the
                    two were rules.py), the comparison of optimizers, the transfer of a ruleset to other agents
    rulesets.py     the agent's rules: ids and counters, dropping, merging, token caps, leaks
    export.py       a run's ruleset where agents read it: .clinerules/, .clinerules, AGENTS.md, CLAUDE.md
    trajectories.py what an agent did, condensed from its transcript for the judge
    docker_engine.py, modal_cloud.py   the Docker engine (check, labels, sweep) and Modal's client
    phoenix/        what Phoenix shows: Prompt versions, experiment runs and their traces, the server
    assembly.py     the agent, the harness and the testbed of a run, put together (run_act, the preflight)
    agent_run.py    one agent run of run_act: testbed, agent through the gateway, patch, score, row
    registry.py     a seam's registry: name → "module:class", imported when asked for
    circuit_breaker.py, credentials.py, machine.py   infrastructure errors that stop a loop; the
                    environment without provider keys; how many agent runs this machine holds
    stats.py        intervals and paired tests
    notebook.py     the notebook run headless (papermill): the one copy of the loop; it imports nothing of
                    loop/ (the name of the run its own settings make moved to loop/config.py)
    cli.py          `python -m cookbook` (runs the notebook headless; compares optimizers; mines tasks; exports)
"""
