"""routes.yaml -> plain data, with the line and column of every key and value.

``${VAR}`` and ``${VAR:-default}`` in string values are interpolated from the environment
(``$${`` is a literal ``${``); a missing variable without a default is an error at its position.
Duplicate keys, which YAML would silently overwrite, are errors too.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import yaml

Loc = tuple[Any, ...]
_VAR = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass
class Marks:
    """Positions (1-based line, column) of keys and values by their path in the document."""

    keys: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    values: dict[Loc, tuple[int, int]] = field(default_factory=dict)

    def find(self, loc: Loc, prefer_key: bool = False) -> tuple[int, int]:
        """The most precise known position for ``loc`` (its longest known prefix)."""
        loc = tuple(loc)
        for n in range(len(loc), -1, -1):
            sub = loc[:n]
            first, second = (self.keys, self.values) if prefer_key else (self.values, self.keys)
            if sub in first:
                return first[sub]
            if sub in second:
                return second[sub]
        return (1, 1)


@dataclass
class Problem:
    loc: Loc
    message: str
    line: int
    col: int


def interpolate(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    missing: list[str] = []

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$${":
            return "${"
        name, default = m.group(1), m.group(2)
        value = env.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                missing.append(name)
                return ""
            return default
        return value

    return _VAR.sub(sub, text), missing


def load(text: str, env: Mapping[str, str] | None = None) -> tuple[Any, Marks, list[Problem]]:
    """Parse YAML text; returns (data, marks, problems). A YAML syntax error is one problem."""
    env = os.environ if env is None else env
    marks = Marks()
    problems: list[Problem] = []
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            msg = " ".join(x for x in (exc.context, exc.problem) if x)
            problems.append(Problem((), f"invalid YAML: {msg}", line, col))
            return None, marks, problems
        if node is None:
            return None, marks, problems

        def build(n: yaml.Node, loc: Loc) -> Any:
            marks.values[loc] = (n.start_mark.line + 1, n.start_mark.column + 1)
            if isinstance(n, yaml.MappingNode):
                # `<<: *anchor` merges first; the mapping's own keys then override merged ones
                # (YAML merge semantics). Only a key written twice by the mapping itself is a
                # duplicate.
                own = {id(k) for k, _ in n.value if k.tag != "tag:yaml.org,2002:merge"}
                loader.flatten_mapping(n)
                out: dict[Any, Any] = {}
                written: set[Any] = set()
                for knode, vnode in n.value:
                    key = loader.construct_object(knode, deep=True)
                    kloc = loc + (key,)
                    pos = (knode.start_mark.line + 1, knode.start_mark.column + 1)
                    mine = id(knode) in own
                    if key in out and (not mine or key in written):
                        problems.append(Problem(kloc, f"duplicate key {key!r}", *pos))
                    if mine:
                        written.add(key)
                    marks.keys[kloc] = pos
                    out[key] = build(vnode, kloc)
                return out
            if isinstance(n, yaml.SequenceNode):
                return [build(item, loc + (i,)) for i, item in enumerate(n.value)]
            value = loader.construct_object(n, deep=True)
            if isinstance(value, str) and "$" in value:
                value, missing = interpolate(value, env)
                for name in missing:
                    problems.append(Problem(loc, f"environment variable {name} is not set "
                                                 f"(write ${{{name}:-default}} to give a default)",
                                            *marks.values[loc]))
            return value

        try:
            data = build(node, ())
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            problems.append(Problem((), f"invalid YAML: {exc.problem}", line, col))
            return None, marks, problems
        return data, marks, problems
    finally:
        loader.dispose()
