"""The configuration of an optimization run: one pydantic model, saved as `config.json` in the run directory.

The notebook's parameters cell holds the same settings as upper-case variables (`TRAIN_SIZE` for
`train_size`); `from_parameters` / `to_parameters` map between the two, so the CLI can run the notebook
with a configuration and the notebook can build one from its cell.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BASELINE_PROMPT = (
    "You are Cline, an autonomous coding agent working in a repository. You receive a GitHub issue, "
    "investigate the code with your tools (read files, search, run shell commands such as the tests), "
    "edit the code to resolve the issue, and finish when done. Your rules file (.clinerules) is appended "
    "to this prompt."
)


class LoopConfig(BaseModel):
    """Everything that defines an optimization run."""

    model_config = ConfigDict(extra="forbid")

    run_name: str = Field("bundled-demo", description="names the run directory and the Phoenix datasets")
    dataset: str = Field("bundled", description="'bundled', a HF name (SWE-bench/SWE-bench_Lite) or a file")
    dataset_split: str = Field("test", description="split of the dataset to load (SWE-bench Lite: test or dev)")
    train_size: int = Field(150, description="training instances (the cookbook: 150)")
    test_size: int = Field(150, description="test instances (the cookbook: 150)")
    seed: int = Field(40, description="seed of the split (the cookbook: 40)")
    split_strategy: Literal["random", "by_repo", "by_date"] = "random"
    loops: int = Field(5, description="optimization loops")
    workers: int = Field(4, description="agent runs in parallel (~0.8 GB of memory each)")
    agent: Literal["cline", "cline-modal", "claude-code"] = "cline"
    agent_model: str = Field("gpt-4.1", description="the agent's model")
    judge_model: str = Field("gpt-5", description="the LLM judge's model")
    optimizer_model: str = Field("gpt-5", description="the meta-prompt model")
    optimizer_mode: Literal["rewrite", "delta"] = "rewrite"
    context_size_k: int = Field(128, description="the optimizer's context window, in thousands of tokens")
    harness: Literal["local", "docker", "modal"] = "local"
    repos_dir: str | None = Field(None, description="folder of <owner>__<name>.git mirrors")
    timeout_s: float = Field(900, description="seconds per agent run before its process group is killed")
    max_requests: int = Field(60, description="LLM calls per agent run")
    attempts: int = Field(1, description="agent runs per instance")
    validation_size: int = Field(0, description="instances carved from train to choose the best ruleset on")
    patience: int | None = Field(None, description="stop after this many loops without improvement (validation)")
    budget_usd: float | None = Field(None, description="stop before a loop that would spend more (USD)")
    budget_tokens: int | None = Field(None, description="stop before a loop that would spend more (tokens)")
    requests_per_minute: int | None = Field(None, description="global limit of the agents' LLM requests")
    tokens_per_minute: int | None = Field(None, description="global limit of the agents' LLM tokens")
    phoenix: bool = Field(True, description="log datasets and experiments to Phoenix")
    baseline_prompt: str = BASELINE_PROMPT

    @classmethod
    def from_parameters(cls, parameters: dict) -> LoopConfig:
        """A configuration from the notebook's upper-case parameters (other names are not settings)."""
        return cls(**{name: parameters[name.upper()] for name in cls.model_fields if name.upper() in parameters})

    def to_parameters(self) -> dict:
        """The notebook parameters that set this configuration."""
        return {name.upper(): value for name, value in self.model_dump().items()}
