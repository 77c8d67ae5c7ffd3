"""Runs a command in the guard's own process group and, when the process that started the guard goes away
— a SIGKILLed CLI, a restarted notebook kernel — ends what the agent runs in its sandbox and kills the whole
group, so no agent outlives its run.

    python guard.py <parent pid> <stop command as a JSON list, [] for none> <command...>

It is started with `start_new_session=True`, so the group is the guard, the command and whatever the
command starts (a shell, its tests). The guard ignores SIGTERM (the group's owner sends it to the whole
group at a deadline; the command gets it too) and exits with the command's exit code. It imports nothing
of the project, so it starts in milliseconds.
"""

import json
import os
import signal
import subprocess
import sys

POLL_S = 0.5


def main() -> int:
    parent, stop_command, command = int(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3:]
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen(command, preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL))
    while True:
        try:
            return child.wait(timeout=POLL_S)
        except subprocess.TimeoutExpired:
            if os.getppid() != parent:  # the run that started us is gone: so is everything we started
                if stop_command:  # what runs in the sandbox (a container) is no child of ours
                    subprocess.run(stop_command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                os.killpg(os.getpgrp(), signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
