"""The local testbed: a checkout at the base commit with the repository's virtualenv first on PATH, so the
tests the agent runs are the tests the local harness runs; the agent's processes in namespaces of their own
(`namespaces.py`), where no other process of this machine, and so no key in its environment, is visible."""

from __future__ import annotations

import shutil
from pathlib import Path

from cookbook.data.repositories import check_repositories
from cookbook.paths import cookbook_dir
from cookbook.seams import Workspace
from cookbook.testbeds.namespaces import Namespaces, check_namespaces
from cookbook.workspaces.checkout import prepare_workspace, remove_workspace, sweep_stale_workspaces
from cookbook.workspaces.virtualenv import VirtualEnvs


class LocalTestbed:
    name = "local"

    def __init__(
        self, repos_dir: Path | str | None = None, root: Path | str | None = None, agent_files: tuple[Path, ...] = ()
    ):  # agent_files: not needed, the agent runs from its installation on this machine
        self.repos_dir = repos_dir
        self.root = Path(root) if root else cookbook_dir() / "workspaces"
        self.envs = VirtualEnvs(repos_dir=repos_dir)

    def check(self, instances: list[dict]) -> None:
        check_namespaces()
        sweep_stale_workspaces(self.root)
        check_repositories(instances, self.repos_dir)

    def prepare(self, instance: dict) -> Workspace:
        path = prepare_workspace(instance, root=self.root, repos_dir=self.repos_dir)
        home = path.with_name(f"{path.name}.home")  # swept with the workspace if this process is killed
        try:
            home.mkdir()
            env = self.envs.agent_env(instance, path)
            return Workspace(path, env, instance["base_commit"], home=home, sandbox=Namespaces(tmp=home / "tmp"))
        except BaseException:
            self.release(Workspace(path, {}, "", home=home))
            raise

    def release(self, workspace: Workspace) -> None:
        remove_workspace(workspace.path)
        if workspace.home:
            shutil.rmtree(workspace.home, ignore_errors=True)
