"""A pipeline: named steps compiled from routes.yaml, run by a visible for-loop."""

from __future__ import annotations

from typing import Any

import structlog

from bridge.config.loader import Problems, did_you_mean
from bridge.errors import BridgeError, StepFailed, UpstreamError, ValidationFailed
from bridge.message import Message
from bridge.placeholders import MISSES, PlaceholderMissing
from bridge.registry import STEPS, BuildContext, load_builtin_steps
from bridge.types import Step

log = structlog.get_logger("bridge.pipeline")


class Pipeline:
    """The steps of one side of a route. Steps are plain callables; a step that does I/O (`call`)
    says ``is_async`` and returns an awaitable. A pipeline without one runs as a plain loop
    (``__call__``, the hot path); with one, the route awaits ``run``, one loop for both kinds."""

    __slots__ = ("steps", "route", "_errors", "is_async", "reply_side")

    def __init__(self, steps: list[tuple[str, Step]], route: str, step_errors: Any, *,
                 reply_side: bool = False) -> None:
        self.steps = steps
        self.route = route
        self._errors = step_errors
        self.is_async = any(getattr(step, "is_async", False) for _, step in steps)
        self.reply_side = reply_side

    def __bool__(self) -> bool:
        return bool(self.steps)

    def __call__(self, msg: Message) -> Message:
        for name, step in self.steps:
            try:
                msg = step(msg)
            except BridgeError:
                self._errors.labels(self.route, name).inc()
                raise
            except PlaceholderMissing as exc:
                raise self._required(name, exc) from None
            except Exception as exc:
                raise self._crashed(name, msg, exc) from None
        if MISSES in msg.meta:
            self._missed(msg)
        return msg

    async def run(self, msg: Message) -> Message:
        for name, step in self.steps:
            try:
                if getattr(step, "is_async", False):
                    msg = await step(msg)  # type: ignore[misc]
                else:
                    msg = step(msg)
            except BridgeError:
                self._errors.labels(self.route, name).inc()
                raise
            except PlaceholderMissing as exc:
                raise self._required(name, exc) from None
            except Exception as exc:
                raise self._crashed(name, msg, exc) from None
        if MISSES in msg.meta:
            self._missed(msg)
        return msg

    def _missed(self, msg: Message) -> None:
        """Placeholders that found nothing (left out of the tree, never invented): counted as
        template step errors and logged at debug with their paths."""
        misses = msg.meta.pop(MISSES)
        self._errors.labels(self.route, "template").inc(len(misses))
        log.debug("placeholder_missing", route=self.route, paths=misses,
                  request_id=msg.meta.get("request_id"))

    def _required(self, name: str, exc: PlaceholderMissing) -> BridgeError:
        self._errors.labels(self.route, "template").inc()
        text = f"{name}: required value {exc.expr} is missing"
        if self.reply_side:
            return UpstreamError(f"the target's reply lacks {exc.expr} ({name})", code="upstream_incomplete")
        return ValidationFailed(text)

    def _crashed(self, name: str, msg: Message, exc: Exception) -> StepFailed:
        self._errors.labels(self.route, name).inc()
        log.error("step_crashed", route=self.route, step=name, error_type=type(exc).__name__,
                  request_id=msg.meta.get("request_id"), exc_info=exc)
        return StepFailed(f"step {name!r} failed on this message", code="step_failed")


def compile_steps(items: list[Any], loc: tuple[Any, ...], ctx: BuildContext,
                  problems: Problems) -> list[tuple[str, Step]]:
    """Validate and build each `- name: config` item; report problems at their positions."""
    from pydantic import ValidationError

    load_builtin_steps()
    out: list[tuple[str, Step]] = []
    for i, item in enumerate(items):
        iloc = loc + (i,)
        if isinstance(item, str) and item in STEPS:
            item = {item: None}
        if not isinstance(item, dict) or len(item) != 1:
            problems.add(iloc, "a step is a mapping with one key, the step name, e.g. `- case: snake`")
            continue
        (name, raw), = item.items()
        spec = STEPS.get(name)
        if spec is None:
            problems.add(iloc + (name,), f"unknown step {name!r}{did_you_mean(name, STEPS)}", at_key=True)
            continue
        try:
            cfg = spec.model.model_validate(raw)
        except ValidationError as exc:
            problems.add_validation(exc, iloc + (name,), spec.model)
            continue
        try:
            out.append((name, spec.build(cfg, ctx)))
        except (ValueError, OSError, ImportError) as exc:
            problems.add(iloc + (name,), str(exc))
    return out
