"""The local testbed's sandbox: the agent's processes in a PID and a mount namespace of their own
(`unshare`, from util-linux), with their own /proc. No other process of this machine — the run's own, the
gateway, a notebook kernel — is visible from inside, so no other process's environment (and no key in one)
can be read; the agent's own environment holds none. A small shell is the namespace's first process, so
that orphans are reaped, the agent gets the group's signals, and everything inside ends with it.

Each run has a /tmp of its own (a folder beside its workspace, mounted over /tmp inside the namespace), as in a
container: agents write `/tmp/reproduce.py` often, and parallel runs must not read or refuse each other's.
The folders under the machine's /tmp that the run is given (its workspace, home or environment, when they
live there) are mounted back where they were.

As root the namespaces are made directly; otherwise inside a user namespace that maps the user to itself
(where the kernel allows unprivileged user namespaces).
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from pathlib import Path

from cookbook.seams import CookbookError

UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]
FIRST_PROCESS = ["/bin/sh", "-c", '"$@" & wait $!', "sh"]  # reaps orphans; passes the agent's exit code on
# the first process's own /tmp: the run's folder mounted over it, then (from the machine's /tmp, still its cwd;
# relative, not canonicalized, which would name the new /tmp) the folders the run was given mounted back; the
# agent started in the run's cwd
PRIVATE_TMP = (
    'cd /tmp && mount --bind "$0" /tmp || exit 1; '
    'for d in $KEEP; do mkdir -p "/tmp/$d" && mount --bind --no-canonicalize "./$d" "/tmp/$d" || exit 1; done; '
    'cd "$CWD" && unset KEEP CWD && { "$@" & wait $!; }'
)


class NamespacesUnavailable(CookbookError):
    """The agent's namespaces cannot be made here; the message says what to do."""


def unshare_command() -> list[str]:
    return UNSHARE if os.geteuid() == 0 else [*UNSHARE, "--map-current-user"]


@functools.cache
def check_namespaces() -> None:
    """Raise NamespacesUnavailable unless a process can be started in namespaces of its own here."""
    try:
        done = subprocess.run([*unshare_command(), "--", "true"], capture_output=True, text=True, timeout=30)
        error = "" if done.returncode == 0 else done.stderr.strip()[-300:]
    except OSError as e:  # no unshare at all (not Linux, or no util-linux)
        error = str(e)
    if error:
        raise NamespacesUnavailable(
            f"The local testbed runs each agent in PID and mount namespaces of its own, so that it cannot read "
            f"another process's environment, and `unshare` cannot make them here ({error}). On Linux: run as "
            "root, or allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1); or "
            "run the agents in instance containers with harness='docker'."
        )


class Namespaces:
    """A sandbox of PID and mount namespaces: the agent sees this machine's files where they are (its
    workspace, its home, its installation) but no process of it but its own."""

    network = None  # this machine's: the gateway on 127.0.0.1 is reached as it is
    stop_command: list[str] = []  # the namespace ends with its first process, which is in the run's group

    def __init__(self, tmp: Path | None = None):
        self.tmp = tmp  # the run's own /tmp (None: the machine's)

    def path(self, host_path: Path) -> str:
        return str(host_path)

    def command(self, argv: list[str], env: dict[str, str], cwd: Path) -> tuple[list[str], dict[str, str]]:
        if self.tmp is None:
            return [*unshare_command(), "--", *FIRST_PROCESS, *argv], env
        self.tmp.mkdir(parents=True, exist_ok=True)
        given = " ".join([*argv, *env.values(), str(cwd)])
        named = set(re.findall(r"(?:^|[\s:=\"'])/tmp/([^/\s:\"']+)", given))
        # folders as they are now, named plainly (the script splits KEEP on spaces and quotes nothing)
        keep = sorted(n for n in named if re.fullmatch(r"[\w.@+-]+", n) and (Path("/tmp") / n).is_dir())
        script = ["/bin/sh", "-c", PRIVATE_TMP, str(self.tmp)]
        inner = {**env, "KEEP": " ".join(keep), "CWD": str(cwd)}
        return [*unshare_command(), "--", *script, *argv], inner
