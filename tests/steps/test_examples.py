"""Every documented step example runs as a test (one walk over the registry)."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import pytest

from bridge.errors import BridgeError
from bridge.message import Message
from bridge.registry import BuildContext, Example, StepSpec, load_builtin_steps
from bridge.testing import CannedTarget

ROOT = Path(__file__).resolve().parents[2]
STEPS = load_builtin_steps()
CASES = [pytest.param(spec, ex, id=f"{name}-{i}-{ex.title}")
         for name, spec in sorted(STEPS.items()) for i, ex in enumerate(spec.examples)]


@pytest.mark.parametrize(("spec", "example"), CASES)
def test_example(spec: StepSpec[Any], example: Example) -> None:
    config = spec.model.model_validate(copy.deepcopy(example.config))
    targets = {name: CannedTarget(name, reply) for name, reply in example.replies.items()}
    step = spec.build(config, BuildContext(base_dir=ROOT, route="example",
                                           secrets=example.secrets, targets=targets))
    msg = Message(copy.deepcopy(example.input), secrets=example.secrets,
                  meta={"request_id": "req-1", "route": "example",
                        "now": "2024-08-16T18:23:01+08:00"})

    def run(m: Message) -> Message:
        return asyncio.run(step(m)) if getattr(step, "is_async", False) else step(m)  # type: ignore[arg-type]
    if example.error:
        with pytest.raises(BridgeError) as info:
            run(msg)
        assert type(info.value).__name__ == example.error
        assert info.value.message
    else:
        out = run(msg)
        assert out.body == example.output


@pytest.mark.parametrize("name", sorted(STEPS))
def test_every_step_is_documented(name: str) -> None:
    spec = STEPS[name]
    assert spec.examples, f"step {name} has no example"
    assert spec.summary.strip(), f"step {name} has no summary"
    assert all(ex.title for ex in spec.examples), f"step {name} has an untitled example"


def test_the_contract_steps_are_registered() -> None:
    contract = {"rename", "case", "map_values", "set", "default", "drop", "keep", "coerce",
                "date", "require", "template", "wrap", "unwrap", "embed", "extract", "python"}
    assert contract <= set(STEPS)


def test_steps_that_can_fail_document_the_failure() -> None:
    for name in ("coerce", "date", "require", "unwrap", "extract"):
        assert any(ex.error for ex in STEPS[name].examples), name
