"""Dotted paths into the body tree, and `{...}` placeholders (DESIGN §3)."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.message import Message
from bridge.paths import MISSING, Path
from bridge.placeholders import compile_string, compile_tree, fmt, has_placeholders


# -- paths ----------------------------------------------------------------------------------------

def tree() -> dict[str, Any]:
    return {"WorkInfo": {"Record": [{"WorkId": "1", "Name": "a"}, {"WorkId": "2"}]},
            "head": {"code": 0}, "empty": "", "none": None}


@pytest.mark.parametrize("text", ["", ".", "a.", ".a", "a..b"])
def test_invalid_paths(text: str) -> None:
    with pytest.raises(ValueError):
        Path(text)


def test_get_through_dicts_and_lists() -> None:
    t = tree()
    assert Path("head.code").get(t) == 0
    assert Path("WorkInfo.Record.WorkId").get(t) == ["1", "2"]
    assert Path("WorkInfo.Record.Name").get(t) == ["a"]
    assert Path("WorkInfo.Record.0.WorkId").get(t) == "1"
    assert Path("WorkInfo.Record.1").get(t) == {"WorkId": "2"}
    assert Path("WorkInfo.Record.5.WorkId").get(t) is MISSING
    assert Path("WorkInfo.Record.Missing").get(t) is MISSING
    assert Path("nope.deeper").get(t, "d") == "d"
    assert Path("head.code.x").get(t) is MISSING
    assert Path("none").get(t) is None
    assert Path("head").exists(t) and not Path("nope").exists(t)


def test_get_flattens_one_level_of_nested_lists() -> None:
    t = {"a": [{"b": [{"c": 1}, {"c": 2}]}, {"b": [{"c": 3}]}]}
    assert Path("a.b.c").get(t) == [1, 2, 3]
    assert list(Path("a.b").values(t)) == [[{"c": 1}, {"c": 2}], [{"c": 3}]]


def test_values_each_list_item_separately() -> None:
    assert list(Path("WorkInfo.Record.WorkId").values(tree())) == ["1", "2"]
    assert list(Path("head.nope").values(tree())) == []


def test_set_creates_dicts_and_applies_to_every_item() -> None:
    t = tree()
    Path("WorkInfo.Record.Status").set(t, "ok")
    assert [r["Status"] for r in t["WorkInfo"]["Record"]] == ["ok", "ok"]
    Path("a.b.c").set(t, 1)
    assert t["a"] == {"b": {"c": 1}}
    Path("empty.x").set(t, 2)          # an empty leaf becomes a dict when a path goes through it
    assert t["empty"] == {"x": 2}
    Path("none.y").set(t, 3)
    assert t["none"] == {"y": 3}


def test_set_update_delete_at_a_numeric_index() -> None:
    t = tree()
    Path("WorkInfo.Record.1.Name").set(t, "b")
    assert t["WorkInfo"]["Record"] == [{"WorkId": "1", "Name": "a"}, {"WorkId": "2", "Name": "b"}]
    Path("WorkInfo.Record.0.WorkId").update(t, int)
    assert t["WorkInfo"]["Record"][0]["WorkId"] == 1
    assert t["WorkInfo"]["Record"][1]["WorkId"] == "2"
    Path("WorkInfo.Record.0.Name").delete(t)
    assert t["WorkInfo"]["Record"][0] == {"WorkId": 1}
    assert t["WorkInfo"]["Record"][1]["Name"] == "b"
    Path("WorkInfo.Record.9.Name").set(t, "x")            # out of range: nothing happens
    assert len(t["WorkInfo"]["Record"]) == 2
    assert all("9" not in r for r in t["WorkInfo"]["Record"])


def test_path_ending_in_an_index_addresses_the_list_item() -> None:
    t = {"items": ["a", "b", "c"]}
    Path("items.1").set(t, "B")
    assert t == {"items": ["a", "B", "c"]}
    Path("items.2").update(t, str.upper)
    assert t == {"items": ["a", "B", "C"]}
    Path("items.0").delete(t)
    assert t == {"items": ["B", "C"]}


def test_numeric_keys_of_dicts_are_still_keys() -> None:
    t = {"codes": {"1": "x"}}
    Path("codes.1").set(t, "y")
    Path("codes.2").set(t, "z")
    assert t == {"codes": {"1": "y", "2": "z"}}
    Path("codes.1").delete(t)
    assert t == {"codes": {"2": "z"}}
    assert Path("codes.2").get(t) == "z"


def test_update_only_where_present() -> None:
    t = tree()
    Path("WorkInfo.Record.Name").update(t, str.upper)
    assert t["WorkInfo"]["Record"] == [{"WorkId": "1", "Name": "A"}, {"WorkId": "2"}]
    Path("nope.x").update(t, str.upper)
    assert "nope" not in t


def test_delete_through_lists() -> None:
    t = tree()
    Path("WorkInfo.Record.WorkId").delete(t)
    assert t["WorkInfo"]["Record"] == [{"Name": "a"}, {}]
    Path("nope.x").delete(t)
    assert "nope" not in t


# -- placeholders ---------------------------------------------------------------------------------

def msg(body: Any = None, **kw: Any) -> Message:
    body = {"data": {"code": "R1", "n": 3, "ok": True, "no": False, "none": None,
                     "items": [1, 2], "rows": [{"id": "a"}, {"id": "b"}]}} if body is None else body
    return Message(body, **kw)


def render(template: Any, m: Message | None = None) -> Any:
    return compile_tree(template)(m or msg())


def test_single_placeholder_keeps_its_type() -> None:
    assert render("{data.items}") == [1, 2]
    assert render("{data.n}") == 3
    assert render("{data.ok}") is True
    assert render("{data.none}") is None
    assert render("{data}")["code"] == "R1"
    assert render("{data.rows.id}") == ["a", "b"]
    assert render("{ data.n }") == 3


def test_mixed_strings_format_values() -> None:
    assert render("code={data.code}&n={data.n}") == "code=R1&n=3"
    assert render("{data.ok}/{data.no}") == "true/false"
    assert render("[{data.none}]") == "[]"
    assert render("x{data.items}") == "x[1, 2]"


def test_missing_values_are_left_out_never_invented() -> None:
    """DESIGN §3: a lone placeholder that finds nothing is MISSING — left out of its dict or
    list (no empty element, no fake list item); inside a longer string it reads as ""."""
    from bridge.paths import MISSING

    assert render("{data.nope}") is MISSING
    assert render("a{data.nope}b") == "ab"
    assert render("{error.message}") is MISSING      # no error outside error templates
    assert render("{request.x}") is MISSING          # no request kept
    assert render({"a": "{data.nope}", "b": "x", "c": {"d": "{data.nope}"}}) == {"b": "x", "c": {}}
    assert render({"rows": ["{data.nope}", "{data.code}"]}) == {"rows": ["R1"]}


def test_required_placeholder_fails_naming_the_path() -> None:
    import pytest

    from bridge.placeholders import PlaceholderMissing

    with pytest.raises(PlaceholderMissing) as exc:
        render({"a": "{data.nope!}"})
    assert exc.value.expr == "data.nope"
    assert render({"a": "{data.code!}"}) == {"a": "R1"}


async def test_misses_are_counted_and_required_ones_answer_in_the_sides_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Each miss counts in bridge_step_errors_total{step="template"}; `{x!}` missing is 422 on
    the request side and an upstream error on the reply side."""
    from aiohttp import web

    from bridge.testing import serving

    async def handle(request: web.Request) -> web.Response:
        return web.json_response({"ok": 1})
    async with serving(handle) as url:
        await _misses_and_required(tmp_path, url)


async def _misses_and_required(tmp_path, url: str) -> None:  # type: ignore[no-untyped-def]
    import aiohttp

    from bridge.testing import running_bridge

    cfg = tmp_path / "routes.yaml"
    cfg.write_text(f"""
version: 1
targets: {{t: {{url: "{url}"}}}}
routes:
  - name: opt
    inbound: {{path: /opt, format: json}}
    pipeline: [{{template: {{a: "{{a}}", b: "{{b}}"}}}}]
    outbound: {{target: t, path: /x}}
    reply: {{pipeline: [{{template: {{got: "{{ok}}", none: "{{nothing}}"}}}}]}}
  - name: req
    inbound: {{path: /req, format: json}}
    pipeline: [{{template: {{a: "{{a!}}"}}}}]
    outbound: {{target: t, path: /x}}
  - name: rep
    inbound: {{path: /rep, format: json}}
    outbound: {{target: t, path: /x}}
    reply: {{pipeline: [{{template: {{v: "{{nothing!}}"}}}}]}}
""", encoding="utf-8")
    async with running_bridge(cfg) as bridge, aiohttp.ClientSession() as s:
        async with s.post(bridge.url + "/opt", json={"a": 1}) as r:
            assert r.status == 200 and await r.json() == {"got": 1}
        async with s.post(bridge.url + "/req", json={}) as r:
            assert r.status == 422 and "a" in (await r.json())["error"]["message"]
        async with s.post(bridge.url + "/rep", json={}) as r:
            assert r.status == 502
        async with s.get(bridge.url + "/metrics") as r:
            text = await r.text()
    assert 'bridge_step_errors_total{route="opt",step="template"} 2.0' in text   # b, then nothing
    assert 'bridge_step_errors_total{route="req",step="template"} 1.0' in text


def test_body_is_the_default_namespace() -> None:
    assert render("{body.data.code}") == render("{data.code}") == "R1"
    assert render("{body}") == msg().body


def test_namespaces() -> None:
    m = Message({"a": "1"}, meta={"request_id": "rid", "route": "r.x", "now": "2024-01-01T00:00:00+08:00"},
                request={"orderid": "o1"}, error={"message": "boom", "status": 502, "code": "upstream_error"},
                secrets={"token": "s3cret"})
    assert render({"id": "{meta.request_id}", "route": "{meta.route}", "now": "{meta.now}"}, m) == {
        "id": "rid", "route": "r.x", "now": "2024-01-01T00:00:00+08:00"}
    assert render("{request.orderid}", m) == "o1"
    assert render("{error.message} ({error.status}, {error.code})", m) == "boom (502, upstream_error)"
    assert render("{error.status}", m) == 502
    assert render("Bearer {secrets.token}", m) == "Bearer s3cret"
    assert render("{a}", m) == "1"


def test_literal_braces() -> None:
    assert render("{{data.code}}") == "{data.code}"
    assert render('{{"k": "{data.code}"}}') == '{"k": "R1"}'
    assert render("}}{{") == "}{"
    assert not has_placeholders("{{x}}")
    assert has_placeholders("a {x} b")


def test_templates_are_trees_with_literal_keys_and_non_string_leaves() -> None:
    template = {"{data.code}": "{data.code}", "list": ["{data.n}", "n={data.n}", 7], "flag": False,
                "nested": {"x": None}}
    assert render(template) == {"{data.code}": "R1", "list": [3, "n=3", 7], "flag": False,
                                "nested": {"x": None}}


def test_plain_strings_stay_plain() -> None:
    r = compile_string("no placeholders")
    assert r(msg()) == "no placeholders"


def test_fmt() -> None:
    assert fmt(True) == "true" and fmt(False) == "false"
    assert fmt(None) == "" and fmt(MISSING) == ""
    assert fmt(0) == "0" and fmt(1.5) == "1.5" and fmt("x") == "x"


def test_compiled_once_rendered_many() -> None:
    r = compile_tree({"c": "{data.code}"})
    assert r(msg({"data": {"code": "A"}})) == {"c": "A"}
    assert r(msg({"data": {"code": "B"}})) == {"c": "B"}


def test_meta_clock_in_a_vendors_zone_whatever_the_hosts() -> None:
    """DESIGN §6: `{meta.datetime@+08:00}` is Beijing time on a UTC host (TOP's timestamp)."""
    import datetime as dt
    import subprocess
    import sys

    code = ("from bridge.runtime import Meta; m = Meta(); "
            "print(m.get('datetime@+08:00')); print(m.get('datetime@UTC')); "
            "print(m.get('datetime@Asia/Shanghai')); print(m.get('datetime@Nowhere/Else'))")
    for tz in ("UTC", "America/New_York", "Asia/Kolkata"):
        out = subprocess.run([sys.executable, "-c", code], env={"TZ": tz, "PATH": "/usr/bin:/bin"},
                             capture_output=True, text=True, timeout=30, check=True).stdout.split("\n")
        beijing = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).replace(tzinfo=None)
        utc = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        for text, want in ((out[0], beijing), (out[1], utc), (out[2], beijing)):
            got = dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
            assert abs(got - want) < dt.timedelta(seconds=30), (tz, text)
        assert out[3] == "None", "an unknown zone is no clock value"
