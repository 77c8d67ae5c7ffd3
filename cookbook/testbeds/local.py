"""The local testbed: a checkout at the base commit with the repository's virtualenv first on PATH, so the
tests the agent runs are the tests the local harness runs."""

from __future__ import annotations

from pathlib import Path

from cookbook.data.repositories import check_repositories
from cookbook.paths import cookbook_dir
from cookbook.seams import Workspace
from cookbook.testbeds.checkout import prepare_workspace, remove_workspace, sweep_stale_workspaces
from cookbook.testbeds.virtualenv import VirtualEnvs


class LocalTestbed:
    name = "local"

    def __init__(self, repos_dir: Path | str | None = None, root: Path | str | None = None):
        self.repos_dir = repos_dir
        self.root = Path(root) if root else cookbook_dir() / "workspaces"
        self.envs = VirtualEnvs(repos_dir=repos_dir)

    def check(self, instances: list[dict]) -> None:
        sweep_stale_workspaces(self.root)
        check_repositories(instances, self.repos_dir)

    def prepare(self, instance: dict) -> Workspace:
        path = prepare_workspace(instance, root=self.root, repos_dir=self.repos_dir)
        try:
            return Workspace(path, self.envs.agent_env(instance, path), instance["base_commit"])
        except BaseException:
            remove_workspace(path)
            raise

    def release(self, workspace: Workspace) -> None:
        remove_workspace(workspace.path)
