"""Expansion of ``${key}`` and ``${section:key}`` references in values.

A reference without a section name refers to a key of the section the value is
read from.  ``$$`` stands for a literal ``$``; a ``$`` that starts neither form
is kept as it is.  Referenced values are expanded recursively, in the context of
the section they belong to.
"""

from __future__ import annotations

import re
from typing import Callable, Tuple

from .errors import InterpolationCycleError, InterpolationSyntaxError

#: ``lookup(section, key)`` returns the raw value of ``key`` as seen from
#: ``section`` or raises :class:`~inikit.errors.InterpolationMissingError`.
Lookup = Callable[[str, str], str]

_TOKEN = re.compile(r"\$(\$|\{[^}]*\}|\{)")

Node = Tuple[str, str]


def split_reference(ref: str, section: str) -> Node:
    """Split the text between ``${`` and ``}`` into ``(section, key)``.

    ``"key"`` refers to ``section``; ``"other:key"`` to section ``other``.  The
    key is lower-cased like every key; section names are case-sensitive.
    """
    if ":" in ref:
        sec, _, key = ref.rpartition(":")
        sec = sec.strip()
    else:
        sec, key = section, ref
    key = key.strip().lower()
    if not key or not sec:
        raise InterpolationSyntaxError(f"bad interpolation reference ${{{ref}}}", section)
    return sec, key


def interpolate(value: str, section: str, lookup: Lookup) -> str:
    """Return ``value`` with every reference expanded.

    ``section`` is the section ``value`` is read from; ``lookup`` supplies the raw
    values of referenced keys.  Raises
    :class:`~inikit.errors.InterpolationCycleError` when a value refers back to
    itself, directly or through other values.
    """
    return _expand(value, section, lookup, ())


def _expand(value: str, section: str, lookup: Lookup, chain: Tuple[Node, ...]) -> str:
    if "$" not in value:
        return value
    parts = []
    pos = 0
    for match in _TOKEN.finditer(value):
        parts.append(value[pos:match.start()])
        token = match.group(1)
        if token == "$":
            parts.append("$")
        elif token == "{":
            raise InterpolationSyntaxError(
                f"unterminated interpolation reference in {value!r}", section)
        else:
            node = split_reference(token[1:-1], section)
            if node in chain:
                raise InterpolationCycleError(*node)
            raw = lookup(*node)
            parts.append(_expand(raw, node[0], lookup, chain + (node,)))
        pos = match.end()
    parts.append(value[pos:])
    return "".join(parts)


def escape(value: str) -> str:
    """Return ``value`` with every ``$`` doubled, so that it reads back verbatim."""
    return value.replace("$", "$$")
