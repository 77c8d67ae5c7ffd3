"""The configuration of an optimization run: one pydantic model, saved as `config.json` in the run directory.

The notebook's parameters cell holds the same settings as upper-case variables (`TRAIN_SIZE` for
`train_size`); `from_parameters` / `to_parameters` map between the two, so the CLI can run the notebook
with a configuration and the notebook can build one from its cell.

A run's identity is what changes its results: the data and the split, the sizes and the seed, the agent,
the models and endpoints, the ruleset options, the harness and the limits of an agent run. The
`OPERATIONAL` settings — how many loops, how many at once, Phoenix, rate limits, the circuit breaker,
budgets, early stopping, where the mirrors and the agent runs are kept — change how a run goes, not what
it finds: they may change when a run is continued, and each loop records the ones it ran with. The
settings of the notebook's last sections (compare, export, stopping Phoenix) are fields too, so the notebook
reads every setting from `config`, but they are no part of the run: `config.json` leaves them out.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cookbook.agents import AGENTS
from cookbook.harnesses import HARNESSES
from cookbook.llm.endpoints import ROLES, default_model
from cookbook.llm.endpoints import offline as no_provider_is_set
from cookbook.llm.models import DEMO_MODEL
from cookbook.notebook import default_parameters
from cookbook.seams import ConfigurationError

BASELINE_PROMPT = (
    "You are Cline, an autonomous coding agent working in a repository. You receive a GitHub issue, "
    "investigate the code with your tools (read files, search, run shell commands such as the tests), "
    "edit the code to resolve the issue, and finish when done. Your rules file (.clinerules) is appended "
    "to this prompt."
)


OPERATIONAL = (
    "loops",
    "workers",
    "phoenix",
    "requests_per_minute",
    "tokens_per_minute",
    "max_error_share",
    "budget_usd",
    "budget_tokens",
    "patience",
    "repos_dir",
    "agent_runs_dir",
    "transfer_agents",
)
MODEL_FIELDS = tuple(f"{role}_model" for role in ROLES)


class LoopConfig(BaseModel):
    """Everything that defines an optimization run (its identity), and how it is run (`OPERATIONAL`)."""

    model_config = ConfigDict(extra="forbid")

    run_name: str = Field("", description="names the run directory and Phoenix datasets (default: from the settings)")
    dataset: str = Field(
        "bundled",
        description="'bundled', a HF name (SWE-bench/SWE-bench_Lite), a file, or mine:PATH (tasks mined from the "
        "history of the repository at PATH; mine:PATH?since=YYYY-MM-DD&until=YYYY-MM-DD&max=N)",
    )
    dataset_split: str = Field("test", description="split of the dataset to load (SWE-bench Lite: test or dev)")
    train_size: int = Field(150, ge=1, description="training instances, validation included (the cookbook: 150)")
    test_size: int = Field(150, ge=0, description="test instances (the cookbook: 150)")
    seed: int = Field(40, description="seed of the split (the cookbook: 40)")
    split_strategy: Literal["random", "by_repo", "by_date"] | None = Field(
        None, description="None: by_date (train older, test newer) for mined tasks, else random (the cookbook's)"
    )
    loops: int = Field(5, ge=1, description="optimization loops")
    workers: int | None = Field(
        None, ge=1, description="agent runs at once; None: as many as memory and cores hold (cookbook.machine)"
    )
    agent: Literal[AGENTS] = Field("cline", description="the coding agent (cookbook.agents.AGENT_CLASSES)")
    agent_model: str | None = Field(None, description="the agent's model; None: $AGENT_MODEL, else gpt-4.1")
    judge_model: str | None = Field(None, description="the LLM judge's model; None: $JUDGE_MODEL, else gpt-5")
    optimizer_model: str | None = Field(None, description="the meta-prompt model; None: $OPTIMIZER_MODEL, else gpt-5")
    # Where each role's model is reached (keys come from the environment only: see cookbook/llm/endpoints.py)
    agent_api: Literal["openai", "anthropic"] | None = Field(
        None, description="the agent's API kind; None: $AGENT_API, else anthropic for claude-code, else openai"
    )
    agent_base_url: str | None = Field(None, description="None: $AGENT_BASE_URL, else the provider's variable")
    judge_base_url: str | None = Field(None, description="None: $JUDGE_BASE_URL, else $OPENAI_BASE_URL")
    optimizer_base_url: str | None = Field(None, description="None: $OPTIMIZER_BASE_URL, else $OPENAI_BASE_URL")
    judge_reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = Field(
        None, description="reasoning models only; None: $JUDGE_REASONING_EFFORT, else the provider's default"
    )
    optimizer_reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = Field(
        None, description="reasoning models only; None: $OPTIMIZER_REASONING_EFFORT, else the provider's default"
    )
    optimizer_mode: Literal["rewrite", "delta"] = "rewrite"
    selection: Literal["latest", "best", "pareto"] = Field(
        "best",
        description="the candidate each new ruleset grows from: latest (the cookbook's: the ruleset just run), best "
        "(on validation, else train), pareto (GEPA's: a seeded draw among rulesets best on some instance)",
    )
    max_ruleset_tokens: int = Field(1500, ge=50, description="cap of the ruleset's length in tokens (tiktoken's count)")
    drop_unhelpful_after: int | None = Field(
        3, ge=1, description="delta mode: drop a rule that never helped once the judge judged it in this many loops"
    )
    context_size_k: int | None = Field(
        None,
        description="the optimizer's context window in TOKENS, as the cookbook passes it (400000 for gpt-5); "
        "None: the optimizer model's window where known",
    )
    harness: Literal[HARNESSES] | None = Field(
        None, description="local (no Docker), docker or modal; None: follow the data (docker for rows that name images)"
    )
    repos_dir: str | None = Field(None, description="folder of <owner>__<name>.git mirrors")
    agent_runs_dir: str | None = Field(
        None,
        description="where finished agent runs are kept, shared by every run: the same inputs are never paid for "
        "twice (None: <cookbook dir>/agent_runs)",
    )
    timeout_s: float = Field(900, gt=0, description="seconds per agent run before its process group is killed")
    max_requests: int = Field(60, ge=1, description="LLM calls per agent run")
    attempts: int = Field(1, ge=1, description="agent runs per instance")
    validation_size: int = Field(0, ge=0, description="instances carved from train to choose the best ruleset on")
    patience: int | None = Field(None, ge=1, description="stop after this many loops without improvement")
    budget_usd: float | None = Field(None, gt=0, description="stop before a loop that would spend more (USD)")
    budget_tokens: int | None = Field(None, gt=0, description="stop before a loop that would spend more (tokens)")
    requests_per_minute: int | None = Field(None, ge=1, description="global limit of the agents' LLM requests")
    tokens_per_minute: int | None = Field(None, ge=1, description="global limit of the agents' LLM tokens")
    max_error_share: float = Field(
        0.2, ge=0, le=1, description="stop a loop when more of a split's runs end in infrastructure errors"
    )
    phoenix: bool = Field(True, description="log datasets and experiments to Phoenix")
    transfer_agents: dict[str, str | None] = Field(
        default_factory=dict,
        description="after the loops, other agents that run the chosen ruleset and the empty one on test, each pair "
        "with its paired test: agent=model,agent (no model: the run's agent model)",
    )
    baseline_prompt: str = BASELINE_PROMPT
    # What the notebook does after the loops (its last sections): read from its parameters cell like the rest,
    # but no part of the run — not in config.json, the run's identity or the CLI's `run` flags (from a shell,
    # `python -m cookbook compare` and `export` do these), so a run continued or compared never repeats them.
    compare: bool = Field(False, exclude=True, description="run the comparison of optimizers after the loops")
    compare_loops: int = Field(3, exclude=True, description="loops of each variant of the comparison")
    export_format: str = Field(
        "clinerules", exclude=True, description="clinerules, clinerules-file, agents or claude (cookbook.export)"
    )
    export_to: str | None = Field(None, exclude=True, description="the folder to export the chosen ruleset into")
    stop_phoenix_at_end: bool = Field(False, exclude=True, description="stop the local Phoenix at the end")

    @field_validator("context_size_k")
    @classmethod
    def _tokens_not_thousands(cls, value: int | None) -> int | None:
        if value is not None and value < 1000:
            raise ValueError(
                f"context_size_k={value} looks like thousands of tokens; it is in tokens, as the cookbook passes "
                f"it: {value * 1000} (gpt-5: 400000, gpt-4o: 128000), or None for the optimizer model's window"
            )
        return value

    @field_validator("transfer_agents", mode="before")
    @classmethod
    def _transfer_agents(cls, value):
        """`claude-code=claude-sonnet-4-5,mini-swe-agent` (the CLI's), a list of names, or {name: model}."""
        if isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        if isinstance(value, list | tuple):
            value = dict((item.split("=", 1) + [None])[:2] for item in value)
        for name in value or {}:
            if name not in AGENTS:
                raise ValueError(f"unknown agent {name!r}; the agents: {', '.join(AGENTS)}")
        return value

    @model_validator(mode="after")
    def _models_from_the_environment(self) -> LoopConfig:
        """A model left None is the role's environment variable's, else the cookbook's, fixed here so that
        config.json records the models a run used."""
        for role in ROLES:
            if getattr(self, f"{role}_model") is None:
                setattr(self, f"{role}_model", default_model(role))
        return self

    @model_validator(mode="after")
    def _split_for_the_data(self) -> LoopConfig:
        """Tasks mined from a repository's history are split by date unless told otherwise: rules learned on
        its past are tested on its later changes. Fixed here, so config.json records the split used."""
        if self.split_strategy is None:
            from cookbook.mining import is_mined

            self.split_strategy = "by_date" if is_mined(self.dataset) else "random"
        return self

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, values):
        """An unknown key is an error with a "did you mean" (a misspelled budget must not turn it off)."""
        if isinstance(values, dict):
            for key in values:
                if key not in cls.model_fields:
                    close = difflib.get_close_matches(str(key), list(cls.model_fields), n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(cls.model_fields)}"
                    raise ValueError(f"unknown configuration key {key!r}{hint}")
        return values

    @model_validator(mode="after")
    def _sizes(self):
        if self.validation_size >= self.train_size:
            raise ValueError(
                f"validation_size ({self.validation_size}) is carved from train_size ({self.train_size}) "
                "and must leave at least one training instance"
            )
        return self

    @classmethod
    def parse(cls, values: dict) -> LoopConfig:
        """A configuration from plain values, or ConfigurationError with one line per problem."""
        try:
            return cls(**values)
        except ValidationError as e:
            raise ConfigurationError(describe_errors(e)) from None

    @classmethod
    def from_parameters(cls, parameters: dict, offline: bool = False) -> LoopConfig:
        """A configuration from the notebook's upper-case parameters (other names are not settings); a
        RUN_NAME of None names the run after the configuration (see `default_run_name`), and any other None
        of a setting that has a default (BASELINE_PROMPT) is that default."""
        values = {name: parameters[name.upper()] for name in cls.model_fields if name.upper() in parameters}
        values = {k: v for k, v in values.items() if v is not None or cls.model_fields[k].default is None}
        return cls.parse(values).named(offline)

    def named(self, offline: bool = False) -> LoopConfig:
        """This configuration as it runs: in offline demo mode its models are the ones that answer (the
        demo's `demo-model`, whatever was asked for), and its run is named after it (`default_run_name`)
        when it names none."""
        config = self.model_copy(update=dict.fromkeys(MODEL_FIELDS, DEMO_MODEL)) if offline else self
        return config if config.run_name else config.model_copy(update={"run_name": config.default_run_name(offline)})

    @property
    def offline_demo(self) -> bool:
        """Whether the offline demo's scripted models play every role."""
        return all(getattr(self, field) == DEMO_MODEL for field in MODEL_FIELDS)

    def identity(self) -> dict:
        """The settings that change a run's results: all but its name and the `OPERATIONAL` ones."""
        return self.model_dump(exclude={"run_name", *OPERATIONAL})

    def operational(self) -> dict:
        """The settings that change how a run goes, not its results (`OPERATIONAL`)."""
        return {name: getattr(self, name) for name in OPERATIONAL}

    def default_run_name(self, offline: bool = False) -> str:
        """`<dataset>-<agent model>-<hash of its identity>` (prefixed `offline-` in offline demo mode): the same
        settings find their run again whatever the operational ones, and other settings never reuse it."""
        digest = hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()[:8]
        dataset = self.dataset.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()
        name = f"{'offline-' if offline else ''}{dataset}-{self.agent_model}-{digest}"
        return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)

    def differences(self, other: LoopConfig) -> list[str]:
        """`field: this → other` for every setting of the run's identity that differs (operational ones may)."""
        mine, theirs = self.identity(), other.identity()
        return [f"{k}: {mine[k]!r} → {theirs[k]!r}" for k in mine if mine[k] != theirs[k]]

    def to_parameters(self) -> dict:
        """The notebook parameters that set this configuration."""
        return {name.upper(): value for name, value in self.model_dump().items()}


def describe_errors(error: ValidationError) -> str:
    """A pydantic error as short lines: `configuration: <field> = <value>: <what it accepts>`."""
    lines = []
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        if item["loc"]:
            where = ".".join(str(part) for part in item["loc"])
            message = f"{where} = {item['input']!r}: {message}"
        lines.append(f"configuration: {message}")
    return "\n".join(lines)


def notebook_run_name() -> str:
    """The run the notebook makes with its own settings (what `make demo` runs): named after its
    configuration, in offline demo mode when no provider variable is set. (It was
    `cookbook.notebook.default_run_name`: here, the notebook module imports nothing of the loop.)"""
    return LoopConfig.from_parameters(default_parameters(), offline=no_provider_is_set()).run_name
