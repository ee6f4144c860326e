"""Registries of the pluggable parts: steps, codecs, connectors.

A part is one module that registers a name, a typed config model (pydantic v2) and a factory.
The same model validates routes.yaml, produces ``bridge schema`` and the reference docs; each
step's examples run as tests by one walk over ``STEPS`` (tests/steps/test_examples.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any, Callable, Generic, Mapping, TypeVar

from pydantic import BaseModel, ConfigDict

from bridge.types import Step


class StepConfig(BaseModel):
    """Base of step config models: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class BuildContext:
    """What a factory may use at config load time."""

    base_dir: FsPath                      # directory of routes.yaml: relative paths resolve here
    route: str = ""                       # name of the route being compiled
    secrets: Mapping[str, str] = field(default_factory=dict)
    #: the runtime's targets by name (steps that call one, e.g. `call`); None outside a runtime
    targets: Mapping[str, Any] | None = None

    def resolve(self, path: str) -> FsPath:
        p = FsPath(path)
        return p if p.is_absolute() else self.base_dir / p


@dataclass(frozen=True)
class Example:
    """A documented example: the step's YAML config, an input body and the expected output body.

    ``error`` names the exception class an example expects instead of an output.
    """

    config: Any
    input: Any
    output: Any = None
    title: str = ""
    secrets: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    #: steps that call a target (`call`): target name -> the JSON document it answers
    replies: Mapping[str, Any] = field(default_factory=dict)


M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class StepSpec(Generic[M]):
    name: str
    model: type[M]
    build: Callable[[M, BuildContext], Step]
    summary: str
    examples: tuple[Example, ...] = ()

    def compile(self, raw: Any, ctx: BuildContext) -> Step:
        return self.build(self.model.model_validate(raw), ctx)


STEPS: dict[str, StepSpec[Any]] = {}


def register_step(name: str, model: type[M], *, examples: tuple[Example, ...] | list[Example] = (),
                  summary: str | None = None) -> Callable[[Callable[[M, BuildContext], Step]],
                                                          Callable[[M, BuildContext], Step]]:
    """Register a step factory ``build(config, ctx) -> Step`` under ``name``."""

    def deco(build: Callable[[M, BuildContext], Step]) -> Callable[[M, BuildContext], Step]:
        if name in STEPS:
            raise RuntimeError(f"step {name!r} registered twice")
        doc = summary or (build.__doc__ or "").strip().split("\n\n")[0]
        STEPS[name] = StepSpec(name, model, build, " ".join(doc.split()), tuple(examples))
        return build

    return deco


def load_builtin_steps() -> dict[str, StepSpec[Any]]:
    """Import bridge.steps so every built-in step registers itself."""
    import bridge.steps  # noqa: F401

    return STEPS
