"""A seam's registry: name → "module:class", the class imported only when it is asked for (so listing the
agents does not import Modal's client or mini-swe-agent). Agents, harnesses and testbeds each keep one."""

from __future__ import annotations

import importlib


def load_class(registry: dict[str, str], name: str, kind: str) -> type:
    """The class registered as `name`; ValueError naming the registered ones when there is none."""
    if name not in registry:
        raise ValueError(f"Unknown {kind} {name!r}; use one of {', '.join(registry)}.")
    module, cls = registry[name].split(":")
    return getattr(importlib.import_module(module), cls)
