"""swebench's `run_evaluation`, with its containers' network off: `python -m cookbook.harnesses.offline_evaluation
<run_evaluation's arguments>`.

swebench creates its evaluation containers with the default bridge network (and CAP_SYS_ADMIN, for browser
sandboxes that Python suites do not have). A test suite must not reach the internet (some of that era call
httpbin.org or connect to 10.255.255.1), and on these machines no address but the package index may be
reached at all. This entry point runs swebench's own command line unchanged in a process where every
container the Docker SDK creates has `network_mode="none"` (only loopback) and no added capabilities.
"""

from __future__ import annotations

import runpy

import docker.models.containers

_create = docker.models.containers.ContainerCollection.create


def create_offline(self, image, command=None, **kwargs):
    kwargs.pop("cap_add", None)
    kwargs.pop("network", None)
    return _create(self, image, command, **{**kwargs, "network_mode": "none"})


if __name__ == "__main__":
    docker.models.containers.ContainerCollection.create = create_offline
    runpy.run_module("swebench.harness.run_evaluation", run_name="__main__", alter_sys=True)
