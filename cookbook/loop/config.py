"""The configuration of an optimization run: one pydantic model, saved as `config.json` in the run directory.

The notebook's parameters cell holds the same settings as upper-case variables (`TRAIN_SIZE` for
`train_size`); `from_parameters` / `to_parameters` map between the two, so the CLI can run the notebook
with a configuration and the notebook can build one from its cell.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cookbook.llm.endpoints import ROLES, default_model
from cookbook.seams import ConfigurationError

BASELINE_PROMPT = (
    "You are Cline, an autonomous coding agent working in a repository. You receive a GitHub issue, "
    "investigate the code with your tools (read files, search, run shell commands such as the tests), "
    "edit the code to resolve the issue, and finish when done. Your rules file (.clinerules) is appended "
    "to this prompt."
)


class LoopConfig(BaseModel):
    """Everything that defines an optimization run."""

    model_config = ConfigDict(extra="forbid")

    run_name: str = Field("", description="names the run directory and Phoenix datasets (default: from the settings)")
    dataset: str = Field("bundled", description="'bundled', a HF name (SWE-bench/SWE-bench_Lite) or a file")
    dataset_split: str = Field("test", description="split of the dataset to load (SWE-bench Lite: test or dev)")
    train_size: int = Field(150, ge=1, description="training instances, validation included (the cookbook: 150)")
    test_size: int = Field(150, ge=0, description="test instances (the cookbook: 150)")
    seed: int = Field(40, description="seed of the split (the cookbook: 40)")
    split_strategy: Literal["random", "by_repo", "by_date"] = "random"
    loops: int = Field(5, ge=1, description="optimization loops")
    workers: int | None = Field(
        None, ge=1, description="agent runs at once; None: as many as memory and cores hold (cookbook.machine)"
    )
    agent: Literal["cline", "cline-modal", "claude-code"] = "cline"
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
    harness: Literal["local", "docker", "modal"] | None = Field(
        None, description="local (no Docker), docker or modal; None: follow the data (docker for rows that name images)"
    )
    repos_dir: str | None = Field(None, description="folder of <owner>__<name>.git mirrors")
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
    baseline_prompt: str = BASELINE_PROMPT

    @field_validator("context_size_k")
    @classmethod
    def _tokens_not_thousands(cls, value: int | None) -> int | None:
        if value is not None and value < 1000:
            raise ValueError(
                f"context_size_k={value} looks like thousands of tokens; it is in tokens, as the cookbook passes "
                f"it: {value * 1000} (gpt-5: 400000, gpt-4o: 128000), or None for the optimizer model's window"
            )
        return value

    @model_validator(mode="after")
    def _models_from_the_environment(self) -> LoopConfig:
        """A model left None is the role's environment variable's, else the cookbook's, fixed here so that
        config.json records the models a run used."""
        for role in ROLES:
            if getattr(self, f"{role}_model") is None:
                setattr(self, f"{role}_model", default_model(role))
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
        RUN_NAME of None names the run after the configuration (see `default_run_name`)."""
        values = {name: parameters[name.upper()] for name in cls.model_fields if name.upper() in parameters}
        if values.get("run_name") is None:
            values.pop("run_name", None)
        return cls.parse(values).named(offline)

    def named(self, offline: bool = False) -> LoopConfig:
        """This configuration, its run named after it (`default_run_name`) when it names none."""
        return self if self.run_name else self.model_copy(update={"run_name": self.default_run_name(offline)})

    def default_run_name(self, offline: bool = False) -> str:
        """`<dataset>-<agent model>-<hash of the settings>` (prefixed `offline-` in offline demo mode): the
        same configuration finds its run again, and another one never silently reuses it."""
        settings = self.model_dump(exclude={"run_name", "loops"})
        digest = hashlib.sha256(json.dumps([settings, offline], sort_keys=True).encode()).hexdigest()[:8]
        dataset = self.dataset.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()
        name = f"{'offline-' if offline else ''}{dataset}-{self.agent_model}-{digest}"
        return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)

    def differences(self, other: LoopConfig) -> list[str]:
        """`field: this → other` for every setting (but `loops`) that differs."""
        mine, theirs = self.model_dump(exclude={"loops"}), other.model_dump(exclude={"loops"})
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
