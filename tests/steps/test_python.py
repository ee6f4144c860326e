"""python: import from the config's folder at build time, args, return value checks."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bridge.errors import StepFailed
from bridge.message import Message
from bridge.registry import STEPS, BuildContext, load_builtin_steps

load_builtin_steps()
ROOT = Path(__file__).resolve().parents[2]


def build(config: Any, base: Path = ROOT) -> Any:
    return STEPS["python"].compile(config, BuildContext(base_dir=base))


def test_shipped_example_with_args() -> None:
    s = build({"function": "transforms.examples:join_fields",
               "args": {"fields": ["a", "b", "c"], "into": "abc"}})
    assert s(Message({"a": "x", "b": "", "c": "z"})).body == {"a": "x", "b": "", "c": "z",
                                                              "abc": "x z"}


def test_module_found_in_the_config_directory(tmp_path: Path) -> None:
    pkg = tmp_path / "mysteps_t1"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "fix.py").write_text(
        "from bridge.message import Message\n"
        "def upper_name(msg, *, field='name'):\n"
        "    msg.body[field] = msg.body[field].upper()\n"
        "    return msg\n"
        "def new_message(msg):\n"
        "    return Message({'replaced': True}, meta=msg.meta)\n"
        "def in_place(msg):\n"
        "    msg.body['touched'] = 1\n"
        "def wrong(msg):\n"
        "    return {'not': 'a message'}\n"
        "NOT_CALLABLE = 3\n")
    try:
        assert build({"function": "mysteps_t1.fix:upper_name", "args": {"field": "n"}},
                     tmp_path)(Message({"n": "ab"})).body == {"n": "AB"}
        assert build("mysteps_t1.fix:new_message", tmp_path)(Message({})).body == {"replaced": True}
        assert build("mysteps_t1.fix:in_place", tmp_path)(Message({})).body == {"touched": 1}
        with pytest.raises(StepFailed, match="returned dict, not a Message"):
            build("mysteps_t1.fix:wrong", tmp_path)(Message({}))
        with pytest.raises(ValueError, match="is not a function"):
            build("mysteps_t1.fix:NOT_CALLABLE", tmp_path)
        with pytest.raises(ValueError, match="does not accept these args"):
            build({"function": "mysteps_t1.fix:upper_name", "args": {"nope": 1}}, tmp_path)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("mysteps_t1")]:
            del sys.modules[name]


@pytest.mark.parametrize(("spec", "error"), [
    ("transforms.nope:fn", "cannot import 'transforms.nope'"),
    ("transforms.examples:nope", "has no 'nope'"),
])
def test_bad_names_fail_at_build(spec: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        build(spec)


@pytest.mark.parametrize("config", ["no_colon", "mod:", ":fn", "a b:c", {"args": {}},
                                    {"function": "a:b", "x": 1}, 3])
def test_invalid_config(config: Any) -> None:
    with pytest.raises(ValidationError):
        STEPS["python"].model.model_validate(config)
