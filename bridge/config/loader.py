"""Load routes.yaml: YAML with positions -> pydantic models -> every error at once.

Each problem is reported as ``file:line:col: dotted.path: message``; unknown keys get a
did-you-mean. Compilation problems (a step's config, an unknown target) are reported the same
way by bridge.runtime, through ``Problems``.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from pydantic import BaseModel, ValidationError

from bridge.config import yamlload
from bridge.config.models import BridgeConfig
from bridge.errors import ConfigError

Loc = tuple[Any, ...]


def did_you_mean(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unwrap(ann: Any) -> list[Any]:
    """The candidate types inside Optional/Union/Annotated."""
    origin = typing.get_origin(ann)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(ann)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(ann):
            out.extend(_unwrap(arg))
        return out
    return [ann]


def model_fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """Field names allowed at ``loc`` (a location inside ``model``), for did-you-mean."""
    current: list[Any] = [model]
    for part in loc:
        nxt: list[Any] = []
        for ann in current:
            origin = typing.get_origin(ann)
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                f = ann.model_fields.get(part) or next(
                    (fi for fi in ann.model_fields.values() if fi.alias == part), None)
                if f is not None:
                    nxt.extend(_unwrap(f.annotation))
            elif origin in (list, tuple) and isinstance(part, int):
                nxt.extend(_unwrap(typing.get_args(ann)[0]))
            elif origin is dict:
                nxt.extend(_unwrap(typing.get_args(ann)[1]))
        current = nxt
    names: list[str] = []
    for ann in current:
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            names.extend(fi.alias or n for n, fi in ann.model_fields.items())
    return names


def dotted(loc: Loc) -> str:
    return ".".join(str(p) for p in loc) or "(top)"


@dataclass
class Problems:
    """Collects ``file:line:col: path: message`` lines."""

    filename: str
    marks: yamlload.Marks
    lines: list[tuple[int, int, str]] = field(default_factory=list)

    def add(self, loc: Loc, message: str, *, at_key: bool = False) -> None:
        line, col = self.marks.find(loc, prefer_key=at_key)
        self.lines.append((line, col, f"{self.filename}:{line}:{col}: {dotted(loc)}: {message}"))

    def add_validation(self, exc: ValidationError, prefix: Loc, model: type[BaseModel],
                       skip: Iterable[Loc] = ()) -> None:
        skip = set(skip)
        for err in exc.errors(include_url=False):
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            if prefix + loc in skip and err["type"] not in ("extra_forbidden", "missing"):
                continue  # already reported (e.g. an unset ${VAR} left this value empty)
            if err["type"] == "extra_forbidden":
                key = loc[-1]
                hint = did_you_mean(key, model_fields_at(model, loc[:-1]))
                self.add(prefix + loc, f"unknown key {key!r}{hint}", at_key=True)
            elif err["type"] == "missing":
                self.add(prefix + loc, "required key is missing", at_key=True)
            else:
                msg = err["msg"].removeprefix("Value error, ")
                if err["type"] in ("literal_error",) or "input" not in err or ", got " in msg:
                    self.add(prefix + loc, msg)
                else:
                    self.add(prefix + loc, f"{msg} (got {_short(err['input'])})")

    def raise_if_any(self) -> None:
        if self.lines:
            self.lines.sort(key=lambda t: (t[0], t[1]))
            raise ConfigError([t[2] for t in self.lines])


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass
class Loaded:
    config: BridgeConfig
    raw: Any
    path: Path
    problems: Problems

    @property
    def base_dir(self) -> Path:
        return self.path.parent


def load(path: str | Path, env: Mapping[str, str] | None = None, *, partial: bool = False) -> Loaded:
    """Read and validate; raises ConfigError listing every problem found.

    YAML-level problems (duplicate keys, unset variables) and validation problems are reported
    together. With ``partial``, validation problems do not raise here: the returned config holds
    the parts that are valid (an invalid route is ``None`` in ``routes``, an invalid target
    ``None`` in ``targets``) so bridge.runtime can add its own cross-checks to the same list
    before raising.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{p}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{p}: cannot read: {exc}"]) from None
    data, marks, yproblems = yamlload.load(text, env)
    problems = Problems(str(path), marks)
    for yp in yproblems:
        problems.lines.append((yp.line, yp.col, f"{path}:{yp.line}:{yp.col}: {dotted(yp.loc)}: {yp.message}"))
    if data is None and not problems.lines:
        problems.lines.append((1, 1, f"{path}:1:1: (top): the file is empty"))
    if data is not None and not isinstance(data, dict):
        problems.add((), "expected a mapping with version, targets and routes")
    if not isinstance(data, dict):
        problems.raise_if_any()
    try:
        config = BridgeConfig.model_validate(data)
    except ValidationError as exc:
        problems.add_validation(exc, (), BridgeConfig, skip=(yp.loc for yp in yproblems))
        if not partial:
            problems.raise_if_any()
        config = _partial_config(data)
    else:
        if not partial:
            problems.raise_if_any()
    return Loaded(config, data, p.resolve(), problems)


def _valid(model: Any, value: Any) -> Any:
    try:
        return model.model_validate(value)
    except ValidationError:
        return None


def _partial_config(data: dict[Any, Any]) -> BridgeConfig:
    """The valid parts of an invalid config, positions kept (invalid items become None)."""
    from bridge.config.models import RouteConfig, TargetConfig

    sections = {k: v for k, v in data.items() if k in BridgeConfig.model_fields
                and k not in ("targets", "routes") and _valid(BridgeConfig, {k: v}) is not None}
    config = BridgeConfig.model_validate(sections)
    targets = data.get("targets")
    if isinstance(targets, dict):
        config.targets = {str(k): _valid(TargetConfig, v) for k, v in targets.items()}
    routes = data.get("routes")
    if isinstance(routes, list):
        config.routes = [_valid(RouteConfig, r) for r in routes]
    return config
