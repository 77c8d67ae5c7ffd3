"""A plain checkout, for an agent that brings its own environment (a Modal sandbox made from the instance
image): the agent's patch is applied here so that it is taken like any other."""

from __future__ import annotations

from pathlib import Path

from cookbook.credentials import without_credentials
from cookbook.data.repositories import check_repositories
from cookbook.paths import cookbook_dir
from cookbook.seams import Workspace
from cookbook.workspaces.checkout import prepare_workspace, remove_workspace, sweep_stale_workspaces


class PlainCheckoutTestbed:
    name = "checkout"

    def __init__(
        self, repos_dir: Path | str | None = None, root: Path | str | None = None, agent_files: tuple[Path, ...] = ()
    ):  # agent_files: not needed, the agent runs from its installation on this machine
        self.repos_dir = repos_dir
        self.root = Path(root) if root else cookbook_dir() / "workspaces"

    def check(self, instances: list[dict]) -> None:
        sweep_stale_workspaces(self.root)
        check_repositories(instances, self.repos_dir)

    def prepare(self, instance: dict) -> Workspace:
        path = prepare_workspace(instance, root=self.root, repos_dir=self.repos_dir)
        return Workspace(path, without_credentials(), instance["base_commit"])

    def release(self, workspace: Workspace) -> None:
        remove_workspace(workspace.path)
