"""Route test cases (`bridge test`, DESIGN §5): a route's real code path against a fake target.

A case file names one route and lists cases: the request a caller sends, what the target must
receive and what it answers, and what the caller must get back. Each case goes through
``bridge.exchange.exchange`` — the exact path the server runs (codec, dispatch, auth, pipeline,
encoder, reply decoding, success rule, reply pipeline, errors in the caller's dialect) — with the
route's target swapped for a ``FakeTarget``: nothing touches the network, so cases run anywhere,
fast, and the same on a laptop as in CI.

Matching is by subset: what a case lists must be there and equal; anything else may be too.
The rules (lists, text formats, strings holding documents, headers) are in docs/testing-routes.md.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, TextIO
from urllib.parse import urlencode

import orjson
from multidict import CIMultiDict
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bridge.codecs import charset, soap, xmltree
from bridge.codecs.form import parse_form
from bridge.config import yamlload
from bridge.config.loader import Problems, did_you_mean
from bridge.connectors.http import HttpReply
from bridge.errors import BridgeError, ConfigError, UpstreamError, UpstreamTimeout
from bridge.codecs.charset import split_content_type
from bridge.exchange import Incoming, bytes_reader, exchange
from bridge.placeholders import fmt
from bridge.runtime import PathDispatch, Route, Runtime

_SHOW = 600   # characters of a body shown in a failure


# ----------------------------------------------------------------------------- case file models

class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def given(self, name: str) -> bool:
        return name in self.model_fields_set


class RequestSpec(_Model):
    """What the caller sends. One of body | body_file | json | xml | form (none: an empty body)."""

    path: str | None = None
    method: Literal["POST"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    body_file: str | None = None
    json_: Any = Field(None, alias="json")
    xml: Any = None
    form: dict[str, Any] | None = None
    root: str | None = None
    soap_version: Literal["1.1", "1.2"] = "1.1"

    @model_validator(mode="after")
    def _one_body(self) -> "RequestSpec":
        kinds = [k for k in ("body", "body_file", "json_", "xml", "form") if self.given(k)]
        if len(kinds) > 1:
            raise ValueError("give one of body, body_file, json, xml, form; got "
                             + ", ".join(k.rstrip("_") for k in kinds))
        if self.root is not None and not self.given("xml"):
            raise ValueError("root: names the root element of an xml: request; give xml:")
        return self


class TargetExpect(_Model):
    """What the target must receive (subset)."""

    method: str | None = None
    path: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    json_: Any = Field(None, alias="json")
    xml: Any = None
    form: Any = None
    root: str | None = None
    body_contains: str | list[str] | None = None


class TargetReply(_Model):
    """The fake target's answer: one of json | xml (a tree, encoded with root) | body (raw)."""

    status: int = 200
    headers: dict[str, str] = Field(default_factory=dict)
    json_: Any = Field(None, alias="json")
    xml: Any = None
    root: str | None = None
    body: str | None = None

    @model_validator(mode="after")
    def _one_body(self) -> "TargetReply":
        kinds = [k for k in ("json_", "xml", "body") if self.given(k)]
        if len(kinds) > 1:
            raise ValueError("give one of json, xml, body; got " + ", ".join(k.rstrip("_") for k in kinds))
        return self


class TargetSpec(_Model):
    expect: TargetExpect | None = None
    reply: TargetReply | None = None
    down: bool = False
    timeout: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> "TargetSpec":
        if self.down and self.timeout:
            raise ValueError("a target is either down or timing out, not both")
        if (self.down or self.timeout) and self.reply is not None:
            raise ValueError("a target that is down or times out gives no reply:")
        return self


class ReplyExpect(_Model):
    """What the caller must get back (subset)."""

    status: int | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    json_: Any = Field(None, alias="json")
    xml: Any = None
    root: str | None = None
    body_contains: str | list[str] | None = None


class CallSpec(TargetSpec):
    """One `call` step's exchange with a target, in the order the route makes them."""

    target: str


class Case(_Model):
    name: str
    route: str | None = None               # None: the file's route
    request: RequestSpec | None = None     # None: the previous case's request
    calls: list[CallSpec] = Field(default_factory=list)   # what `call` steps ask, in order
    target: TargetSpec | None = None
    expect: ReplyExpect


class CaseFile(_Model):
    route: str
    cases: list[Case] = Field(min_length=1)


@dataclass
class LoadedCases:
    path: Path
    route: str
    cases: list[tuple[Case, RequestSpec]]

    @property
    def routes(self) -> set[str]:
        """Every route the file exercises (its own and any case's ``route:``)."""
        return {self.route} | {c.route for c, _ in self.cases if c.route}


class CaseFileError(Exception):
    """Case files that cannot run; ``errors`` are ``file:line:col: path: message`` lines."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def load_cases(path: str | Path, routes: Iterable[str] | None = None,
               env: Mapping[str, str] | None = None) -> LoadedCases:
    """Read and validate one case file; with ``routes``, its route must be one of them."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseFileError([f"{p}: cannot read: {exc}"]) from None
    data, marks, yproblems = yamlload.load(text, os.environ if env is None else env)
    problems = Problems(str(path), marks)
    for yp in yproblems:
        where = ".".join(map(str, yp.loc)) or "(top)"
        problems.lines.append((yp.line, yp.col, f"{path}:{yp.line}:{yp.col}: {where}: {yp.message}"))
    if not isinstance(data, dict):
        if not problems.lines:
            problems.add((), "expected a mapping with route: and cases:")
        _raise(problems)
    known = list(routes) if routes is not None else None

    def check_route(name: Any, loc: tuple[Any, ...]) -> None:
        if known is not None and isinstance(name, str) and name not in known:
            problems.add(loc, f"unknown route {name!r}{did_you_mean(name, known)}"
                         + ("" if known else " (the config has no routes)"))
    try:
        cf = CaseFile.model_validate(data)
    except ValidationError as exc:
        check_route(data.get("route"), ("route",))
        problems.add_validation(exc, (), CaseFile)
        _raise(problems)
    check_route(cf.route, ("route",))
    resolved: list[tuple[Case, RequestSpec]] = []
    seen: set[str] = set()
    previous: RequestSpec | None = None
    for i, case in enumerate(cf.cases):
        if case.name in seen:
            problems.add(("cases", i, "name"), f"case name {case.name!r} is used twice")
        seen.add(case.name)
        if case.route is not None:
            check_route(case.route, ("cases", i, "route"))
        request = case.request or previous
        if request is None:
            problems.add(("cases", i), "the first case needs a request: (later cases without one "
                         "send the previous case's request)", at_key=True)
            continue
        if case.request is not None and case.request.body_file is not None:
            if not (p.parent / case.request.body_file).is_file():
                problems.add(("cases", i, "request", "body_file"),
                             f"file not found: {case.request.body_file} (relative to {p.parent})")
        previous = request
        resolved.append((case, request))
    _raise(problems)
    return LoadedCases(p, cf.route, resolved)


def _raise(problems: Problems) -> None:
    try:
        problems.raise_if_any()
    except ConfigError as exc:
        raise CaseFileError(exc.errors) from None


# ----------------------------------------------------------------------------- the fake target

@dataclass
class Recorded:
    """One call the route made to its target."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class FakeTarget:
    """Stands in for an HttpTarget: records each call, answers the case's canned reply.

    ``down`` and ``timeout`` raise what the real connector raises, with the same messages, so
    error templates render exactly as in production.
    """

    def __init__(self, name: str, spec: TargetSpec | None, route: Route) -> None:
        self.name = name
        self.spec = spec
        self.route = route
        self.calls: list[Recorded] = []

    async def call(self, method: str, path: str, body: bytes, headers: dict[str, str], *,
                   idempotent: bool) -> HttpReply:
        self.calls.append(Recorded(method, path, dict(headers), body))
        spec = self.spec
        if spec is None:
            raise UpstreamError(f"bridge test: route {self.route.name} called target {self.name} "
                                "but the case has no target:", code="no_fake_reply")
        return fake_answer(spec, self.name, self.route.target.cfg.timeout, self.route)


def fake_answer(spec: TargetSpec, name: str, timeout: float, route: Route) -> HttpReply:
    """What a faked target answers: raises what the real connector raises for ``down`` and
    ``timeout`` (same messages, so error templates render as in production), else the canned reply."""
    if spec.down:
        raise UpstreamError(f"cannot reach target {name}: ClientConnectorError", code="upstream_unreachable")
    if spec.timeout:
        raise UpstreamTimeout(f"target {name} did not answer within {timeout:g}s", code="upstream_timeout")
    reply = spec.reply or TargetReply()
    data, ctype = encode_target_reply(reply, route)
    media, label = split_content_type(ctype)
    return HttpReply(reply.status, media, label, data, 0.0)


class FakeCalls:
    """Stands in for every target a `call` step asks during one case: each call takes the next
    entry of the case's ``calls:`` (which must name that target), in order."""

    def __init__(self, name: str, route: Route, queue: list[CallSpec], made: list[tuple[CallSpec | None, Recorded]],
                 real: Any) -> None:
        self.name, self.route, self.queue, self.made = name, route, queue, made
        self.cfg = real.cfg

    async def call(self, method: str, path: str, body: bytes, headers: dict[str, str], *,
                   idempotent: bool) -> HttpReply:
        spec = self.queue.pop(0) if self.queue else None
        recorded = Recorded(method, path, dict(headers), body)
        self.made.append((spec, recorded))
        if spec is None:
            raise UpstreamError(f"bridge test: a call step asked target {self.name} but the case "
                                "lists no more calls:", code="no_fake_reply")
        if spec.target != self.name:
            raise UpstreamError(f"bridge test: a call step asked target {self.name}, the case's next "
                                f"call is to {spec.target}", code="no_fake_reply")
        return fake_answer(spec, self.name, self.cfg.timeout, self.route)


def _check_calls(case: Case, made: list[tuple[CallSpec | None, Recorded]], problems: list[str]) -> None:
    for i, (spec, rec) in enumerate(made):
        where = f"calls.{i}"
        if spec is None or spec.expect is None:
            continue
        exp = spec.expect
        if exp.method is not None and exp.method.upper() != rec.method.upper():
            problems.append(f"{where}.method: expected {exp.method}, got {rec.method}")
        if exp.path is not None and exp.path != rec.path:
            problems.append(f"{where}.path: expected {exp.path!r}, got {rec.path!r}")
        _headers_match(exp.headers, rec.headers, f"{where}.headers", problems)
        match_body(exp, rec.body, _header(rec.headers, "Content-Type") or "", where, None, problems)
    if len(made) < len(case.calls):
        missing = case.calls[len(made):]
        problems.append(f"calls: {len(missing)} listed call(s) never made (next: {missing[0].target})")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    low = name.lower()
    return next((v for k, v in headers.items() if k.lower() == low), None)


def encode_target_reply(reply: TargetReply, route: Route) -> tuple[bytes, str]:
    """The canned reply as bytes and Content-Type, shaped as the route's target would send it.

    ``xml`` on a SOAP route is wrapped in the envelope the route expects back: the document
    inside ``<{operation}Response><{reply_param}>`` when the route has ``soap.reply_param``,
    else the tree as the response element's children.
    """
    out = route.config.outbound
    given_ct = _header(reply.headers, "Content-Type")
    if reply.given("json_"):
        return orjson.dumps(reply.json_), given_ct or "application/json"
    if reply.given("xml"):
        if out.format == "soap" and out.soap is not None:
            opts = out.soap
            op = soap.operation_element(f"{opts.operation}Response", opts.namespace, reply.xml,
                                        opts.reply_param, reply.root or out.root or "Response")
            data = xmltree.serialize(soap.envelope(opts.version, op), encoding="UTF-8")
            return data, given_ct or f"{soap.MEDIA[opts.version]}; charset=UTF-8"
        root = reply.root or out.root or "reply"
        data = xmltree.tree_to_xml(reply.xml, root, encoding="UTF-8")
        return data, given_ct or "application/xml; charset=UTF-8"
    text = reply.body or ""
    label = split_content_type(given_ct)[1] if given_ct else None
    return charset.encode(text, label or "utf-8"), given_ct or ""


# ----------------------------------------------------------------------------- requests

def build_request(spec: RequestSpec, route: Route, base_dir: Path) -> tuple[bytes, CIMultiDict[str]]:
    """The caller's request as bytes and headers; a Content-Type is added when the case has none."""
    inbound = route.config.inbound
    headers: CIMultiDict[str] = CIMultiDict(spec.headers)
    default_ct = {"xml": "application/xml", "soap": "text/xml", "json": "application/json",
                  "form": "application/x-www-form-urlencoded"}[inbound.format]
    if spec.given("json_"):
        data, default_ct = orjson.dumps(spec.json_), "application/json"
    elif spec.given("form"):
        pairs = [(k, orjson.dumps(v).decode() if isinstance(v, (dict, list)) else fmt(v))
                 for k, v in (spec.form or {}).items()]
        data, default_ct = urlencode(pairs).encode("ascii"), "application/x-www-form-urlencoded"
    elif spec.given("xml"):
        match = inbound.match
        if inbound.format == "soap":
            cfg = inbound.soap
            operation = (match.operation if match and match.operation else None) or spec.root or "operation"
            data, soap_headers = soap.encode_request(
                spec.xml, version=spec.soap_version, operation=operation,
                namespace=cfg.namespace if cfg else None, param=cfg.param if cfg else None,
                inner_root=spec.root or "Request", action="", encoding="UTF-8")
            for k, v in soap_headers.items():
                headers.setdefault(k, v)
        else:
            root = spec.root or (match.root if match and match.root else None) or "request"
            data = xmltree.tree_to_xml(spec.xml, root, encoding="UTF-8")
            default_ct = "application/xml; charset=utf-8"
    elif spec.body_file is not None:
        data = (base_dir / spec.body_file).read_bytes()
    else:
        text = spec.body or ""
        label = split_content_type(_header(headers, "Content-Type") or "")[1]
        if label is None and text.lstrip().startswith("<?xml"):
            label = charset.xml_declared(text.lstrip().encode("ascii", "replace"))
        data = charset.encode(text, label or "utf-8")
    headers.setdefault("Content-Type", default_ct)
    return data, headers


# ----------------------------------------------------------------------------- decoding and matching

@dataclass
class Decoded:
    """A body as the case sees it: kind (json, xml, form, text), tree, root element name."""

    kind: str
    tree: Any = None
    root: str | None = None
    error: str | None = None


def decode_body(data: bytes, content_type: str, soap_param: str | None = None) -> Decoded:
    """Decode by Content-Type, sniffed when missing; a SOAP envelope is unwrapped to its
    operation (or Fault), and to the document in ``soap_param`` when the route uses one."""
    media, label = split_content_type(content_type)
    stripped = data.lstrip()
    if "json" in media or (not media and stripped[:1] in (b"{", b"[")):
        try:
            return Decoded("json", orjson.loads(data.decode(charset.python_codec(label or "utf-8"))))
        except (orjson.JSONDecodeError, UnicodeDecodeError, LookupError) as exc:
            return Decoded("json", error=f"not valid JSON: {exc}")
    if media == "application/x-www-form-urlencoded":
        try:
            return Decoded("form", parse_form(data, label or "utf-8"))
        except BridgeError as exc:
            return Decoded("form", error=exc.message)
    if "xml" in media or (not media and stripped[:1] == b"<"):
        try:
            resolved = charset.resolve(data, label, "auto", xml=True)
            utf8 = charset.python_codec(resolved) == "utf-8"
            text: str | bytes = data if utf8 else charset.decode(data, resolved)
            root, _ = xmltree.parse(text)
            if xmltree.local(root.tag) == "Envelope":
                _, _, first = soap.split_envelope(root)
                if first is None:
                    return Decoded("xml", {}, None)
                if soap_param and xmltree.local(first.tag) != "Fault":
                    root = soap.param_document(first, soap_param)
                else:
                    root = first
            return Decoded("xml", xmltree.element_to_tree(root), xmltree.local(root.tag))
        except BridgeError as exc:
            return Decoded("xml", error=exc.message)
    return Decoded("text")


def body_text(data: bytes, content_type: str) -> str:
    label = split_content_type(content_type)[1]
    if label is None and data.lstrip().startswith(b"<?xml"):
        label = charset.xml_declared(data.lstrip())
    try:
        return charset.decode(data, label or "utf-8")
    except Exception:  # an unknown label or undecodable bytes: show what we can
        return data.decode("utf-8", "replace")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _embedded(value: str) -> tuple[Any, bool] | None:
    """A string that holds a JSON or XML document, parsed: (tree, is_text_format) or None."""
    s = value.strip()
    try:
        if s[:1] in ("{", "["):
            return orjson.loads(s), False
        if s[:1] == "<":
            _, tree = xmltree.xml_to_tree(s)
            return tree, True
    except (orjson.JSONDecodeError, BridgeError):
        return None
    return None


def subset(expected: Any, got: Any, where: str, *, text: bool, out: list[str]) -> None:
    """Append one line per mismatch: ``where: expected X, got Y``.

    ``text``: the actual tree came from a text format (XML, form) where every leaf is a string
    and one repeated element is indistinguishable from a single one.
    """
    if isinstance(expected, (dict, list)) and isinstance(got, str):
        parsed = _embedded(got)
        if parsed is not None:
            got, text = parsed[0], text or parsed[1]
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            out.append(f"{where}: expected a mapping {_short(expected)}, got {_short(got)}")
            return
        for key, value in expected.items():
            key_s = str(key)
            path = f"{where}.{key_s}" if where else key_s
            if key_s not in got:
                out.append(f"{path}: missing (expected {_short(value)}; present: "
                           f"{', '.join(map(str, got)) or 'nothing'})")
            else:
                subset(value, got[key_s], path, text=text, out=out)
        return
    if isinstance(expected, list):
        if text and not isinstance(got, list):
            got = [] if got in ("", None) else [got]
        if not isinstance(got, list):
            out.append(f"{where}: expected a list {_short(expected)}, got {_short(got)}")
            return
        if len(expected) != len(got):
            out.append(f"{where}: expected {len(expected)} items, got {len(got)}: {_short(got)}")
            return
        for i, (e, g) in enumerate(zip(expected, got)):
            subset(e, g, f"{where}[{i}]", text=text, out=out)
        return
    if _scalar_equal(expected, got, text):
        return
    out.append(f"{where}: expected {_short(expected)}, got {_short(got)}")


def _scalar_equal(expected: Any, got: Any, text: bool) -> bool:
    if isinstance(got, (dict, list)):
        return False
    if text:
        return fmt(expected) == fmt(got)
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(expected) is type(got) and expected == got
    return bool(expected == got)


def _headers_match(expected: Mapping[str, str], got: Mapping[str, str], where: str, out: list[str]) -> None:
    """Names case-insensitive; a value without ``;`` matches the part before the actual's ``;``."""
    for name, want in expected.items():
        have = _header(got, name)
        if have is None:
            out.append(f"{where}.{name}: missing (expected {want!r})")
        elif not (have == want or (";" not in want and
                                   have.split(";")[0].strip().lower() == want.strip().lower())):
            out.append(f"{where}.{name}: expected {want!r}, got {have!r}")


def match_body(exp: TargetExpect | ReplyExpect, data: bytes, content_type: str, where: str,
               soap_param: str | None, out: list[str]) -> None:
    """The body expectations (json, xml, form, root, body_contains) of one side of a case."""
    wants = [k for k in ("json_", "xml", "form", "root") if k in type(exp).model_fields and exp.given(k)]
    if wants:
        dec = decode_body(data, content_type, soap_param)
        for key in wants:
            kind = {"json_": "json", "root": "xml"}.get(key, key)
            label = key.rstrip("_")
            if dec.kind != kind or dec.error:
                why = dec.error or f"the body is {dec.kind} (Content-Type {content_type or 'missing'})"
                out.append(f"{where}.{label}: expected a {kind} body; {why}")
            elif key == "root":
                if dec.root != exp.root:
                    out.append(f"{where}.root: expected <{exp.root}>, got <{dec.root}>")
            else:
                subset(getattr(exp, key), dec.tree, f"{where}.{label}", text=kind != "json", out=out)
    if exp.body_contains is not None:
        text = body_text(data, content_type)
        for needle in [exp.body_contains] if isinstance(exp.body_contains, str) else exp.body_contains:
            if needle not in text:
                out.append(f"{where}.body_contains: {needle!r} not found")


# ----------------------------------------------------------------------------- running

@dataclass
class CaseResult:
    file: Path
    route: str
    name: str
    problems: list[str] = field(default_factory=list)
    status: int | None = None
    reply: str = ""

    @property
    def passed(self) -> bool:
        return not self.problems


class ImmediateQueue:
    """Queued routes under `bridge test`: the message is "committed" and delivered at once, one
    attempt, so the case can check what the target receives. A failed delivery does not change
    the caller's reply (it would be retried later in a real bridge)."""

    def __init__(self, route: Route) -> None:
        self.route = route

    async def put(self, record: Any) -> None:
        headers = {**record.headers, "Idempotency-Key": record.id}
        try:
            await self.route.deliver(record.method, record.path, record.body, headers)
        except BridgeError:
            pass


def _swap_targets(dispatch: PathDispatch,
                  spec: TargetSpec | None) -> tuple[PathDispatch, dict[str, FakeTarget]]:
    """A copy of the dispatch whose routes call fakes; the shared runtime is left untouched."""
    fakes: dict[str, FakeTarget] = {}
    swapped: dict[int, Route] = {}
    for route in dispatch.routes:
        fake = FakeTarget(route.target.name, spec, route)
        fakes[route.name] = fake
        swapped[id(route)] = copy_ = dataclasses.replace(route, target=fake)  # type: ignore[arg-type]
        if route.config.outbound.delivery == "queued":
            copy_.queue = ImmediateQueue(copy_)

    def sub(route: Route | None) -> Route | None:
        return None if route is None else swapped[id(route)]
    copy = dataclasses.replace(
        dispatch, routes=[swapped[id(r)] for r in dispatch.routes],
        by_key={k: swapped[id(r)] for k, r in dispatch.by_key.items()},
        by_field=[(p, v, swapped[id(r)]) for p, v, r in dispatch.by_field],
        fallback=sub(dispatch.fallback))
    return copy, fakes


async def run_case(runtime: Runtime, route: Route, case: Case, request: RequestSpec,
                   base_dir: Path, file: Path = Path("-")) -> CaseResult:
    """One case through ``exchange`` with fake targets; the result lists every mismatch."""
    result = CaseResult(file, route.name, case.name)
    problems = result.problems
    path = request.path or route.config.inbound.path
    dispatch = runtime.paths.get(path)
    if dispatch is None:
        problems.append(f"request.path: no route serves {path} (paths: {', '.join(sorted(runtime.paths))})")
        return result
    swapped, fakes = _swap_targets(dispatch, case.target)
    data, headers = build_request(request, route, base_dir)
    # `call` steps find their target in runtime.targets at call time: fakes for this case only
    real_targets = dict(runtime.targets)
    queue, made = list(case.calls), []  # type: ignore[var-annotated]
    for name, real in real_targets.items():
        runtime.targets[name] = FakeCalls(name, route, queue, made, real)  # type: ignore[assignment]
    try:
        out = await exchange(runtime, swapped, Incoming(path, headers, bytes_reader(data), len(data)))
    finally:
        runtime.targets.update(real_targets)
    _check_calls(case, made, problems)
    result.status = out.status
    result.reply = body_text(out.body, out.headers.get("Content-Type", ""))
    if out.route not in (route.name, "unmatched"):
        problems.append(f"route: the request was dispatched to {out.route}, not {route.name}")
    calls = fakes[route.name].calls if route.name in fakes else []
    if case.target is None and calls:
        problems.append(f"target: the route called {route.target.name} but the case has no target:")
    texp = case.target.expect if case.target else None
    if texp is not None:
        if not calls:
            problems.append(f"target: {route.target.name} was never called")
        else:
            call = calls[0]
            if texp.method is not None and texp.method.upper() != call.method.upper():
                problems.append(f"target.method: expected {texp.method}, got {call.method}")
            if texp.path is not None and texp.path != call.path:
                problems.append(f"target.path: expected {texp.path!r}, got {call.path!r}")
            _headers_match(texp.headers, call.headers, "target.headers", problems)
            out_soap = route.config.outbound.soap
            match_body(texp, call.body, _header(call.headers, "Content-Type") or "", "target",
                       out_soap.param if out_soap else None, problems)
    exp = case.expect
    if exp.status is not None and exp.status != out.status:
        problems.append(f"status: expected {exp.status}, got {out.status}")
    _headers_match(exp.headers, out.headers, "headers", problems)
    in_soap = route.config.inbound.soap
    match_body(exp, out.body, out.headers.get("Content-Type", ""), "reply",
               in_soap.reply_param if in_soap else None, problems)
    return result


@dataclass
class Report:
    results: list[CaseResult]

    @property
    def failed(self) -> int:
        return sum(not r.passed for r in self.results)

    @property
    def passed(self) -> int:
        return len(self.results) - self.failed


async def run_files(runtime: Runtime, files: list[LoadedCases]) -> Report:
    by_name = {r.name: r for r in runtime.routes}
    results: list[CaseResult] = []
    for cf in files:
        for case, request in cf.cases:
            route = by_name[case.route or cf.route]
            results.append(await run_case(runtime, route, case, request, cf.path.parent, cf.path))
    return Report(results)


def print_report(report: Report, stream: TextIO, untested: list[str] | None = None) -> None:
    """One line per case, a diff under each failure, the summary line last."""
    for r in report.results:
        stream.write(f"{'PASS' if r.passed else 'FAIL'} {r.route}: {r.name}\n")
        if r.passed:
            continue
        for line in r.problems:
            stream.write(f"    {line}\n")
        if r.status is not None:
            reply = r.reply.strip()
            reply = reply if len(reply) <= _SHOW else reply[:_SHOW] + "..."
            stream.write(f"    the reply was {r.status}:\n")
            stream.write("".join(f"      {line}\n" for line in reply.splitlines() or [""]))
        stream.write(f"    case file: {r.file}\n")
    if untested:
        stream.write(f"routes without cases: {', '.join(untested)}\n")
    stream.write(f"{report.passed} passed, {report.failed} failed\n")


def discover(config: Path, given: list[str]) -> list[Path]:
    """CASES as given (a folder means its *.yaml), else ``tests/routes/*.yaml`` beside the config."""
    if not given:
        return sorted((config.resolve().parent / "tests" / "routes").glob("*.yaml"))
    files: list[Path] = []
    for item in given:
        p = Path(item)
        files.extend(sorted(p.glob("*.yaml")) if p.is_dir() else [p])
    return files


def main(config: str | Path, cases: list[str], stdout: TextIO, stderr: TextIO) -> int:
    """``bridge test``: 0 all pass, 1 some fail, 2 the config or a case file cannot be used."""
    from bridge.testing import load_runtime

    try:
        runtime = load_runtime(config)
    except ConfigError as exc:
        for line in exc.errors:
            stderr.write(line + "\n")
        return 2
    files = discover(Path(config), cases)
    if not files:
        where = cases or [str(Path(config).resolve().parent / "tests" / "routes")]
        stderr.write(f"no case files found in {', '.join(where)}\n")
        return 2
    names = [r.name for r in runtime.routes]
    loaded: list[LoadedCases] = []
    errors: list[str] = []
    for f in files:
        try:
            loaded.append(load_cases(f, names))
        except CaseFileError as exc:
            errors.extend(exc.errors)
    if errors:
        for line in errors:
            stderr.write(line + "\n")
        stderr.write(f"{len(errors)} error{'s' if len(errors) != 1 else ''} in case files\n")
        return 2
    report = asyncio.run(run_files(runtime, loaded))
    untested = sorted(set(names).difference(*(cf.routes for cf in loaded))) if not cases else []
    print_report(report, stdout, untested)
    return 1 if report.failed else 0
