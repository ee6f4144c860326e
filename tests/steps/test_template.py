"""template: namespaces, typed single placeholders, a new body every time."""

from __future__ import annotations

from pathlib import Path

from bridge.message import Message
from bridge.registry import STEPS, BuildContext, load_builtin_steps

load_builtin_steps()
CTX = BuildContext(base_dir=Path("."))


def test_reads_every_namespace() -> None:
    step = STEPS["template"].compile(
        {"code": "{data.code}", "req": "{request.order_id}", "err": "{error.message}",
         "id": "{meta.request_id}", "key": "{secrets.k}", "gone": "{data.nothing}",
         "lit": "{{x}}", "n": 5, "rows": ["{data.code}-{meta.route}"]}, CTX)
    msg = Message({"data": {"code": 0}}, request={"order_id": "A1"}, error={"message": "bad"},
                  meta={"request_id": "q1", "route": "r"}, secrets={"k": "s"})
    # DESIGN §3: a value that is exactly one missing placeholder is left out ("gone")
    assert step(msg).body == {"code": 0, "req": "A1", "err": "bad", "id": "q1", "key": "s",
                              "lit": "{x}", "n": 5, "rows": ["0-r"]}
    assert msg.meta["_placeholder_misses"] == ["data.nothing"]


def test_fresh_body_per_message() -> None:
    step = STEPS["template"].compile({"a": {"b": "c"}}, CTX)
    first = step(Message({})).body
    first["a"]["b"] = "changed"
    assert step(Message({})).body == {"a": {"b": "c"}}


def test_scalar_template() -> None:
    assert STEPS["template"].compile("{x}", CTX)(Message({"x": [1]})).body == [1]
