"""A validated config compiled into ready callables: paths -> dispatch -> routes -> targets.

Nothing here walks config per request: matchers are dict lookups, pipelines are lists of
callables, encoders and decoders are closures made once. A Runtime is immutable once built, so
a reload can swap it atomically.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from bridge.auth import build as build_auth
from bridge.codecs import CODECS
from bridge.codecs.base import Inbound, InboundCodec, ParseOptions, Rendered
from bridge.config.loader import Loaded, Problems, did_you_mean
from bridge.config.models import RouteConfig, SuccessRule
from bridge.connectors.encode import Encoder, make_encoder, make_reply_decoder
from bridge.connectors.http import HttpReply, HttpTarget
from bridge.delivery.base import Record
from bridge.errors import BridgeError, NoRoute, Unavailable, UpstreamError
from bridge.message import Message
from bridge.observability.metrics import Metrics
from bridge.paths import MISSING, Path
from bridge.pipeline import Pipeline, compile_steps
from bridge.placeholders import Render, compile_tree, fmt
from bridge.registry import BuildContext
from bridge.types import Tree
from bridge.xsd import schema_lists


class Meta(dict):  # type: ignore[type-arg]
    """Message metadata; the clock values are computed only when a template reads them.

    ``now``: ISO 8601 with offset; ``datetime``: ``YYYY-MM-DD HH:MM:SS``; ``date``:
    ``YYYYMMDD``; ``epoch_ms``: milliseconds since the epoch. All read one clock reading per
    message, in the host's zone — or in a vendor's own zone, whatever the host's TZ says, with
    ``@zone``: ``{meta.datetime@+08:00}`` (TOP reads its timestamp as GMT+8), ``@UTC``, or an
    IANA name such as ``@Asia/Shanghai`` (needs the system's tz database).
    """

    _CLOCK = {
        "now": lambda t: t.isoformat(timespec="seconds"),
        "datetime": lambda t: t.strftime("%Y-%m-%d %H:%M:%S"),
        "date": lambda t: t.strftime("%Y%m%d"),
        "epoch_ms": lambda t: int(t.timestamp() * 1000),
    }

    def _clock(self, key: str) -> Any:
        name, _, zone = key.partition("@")
        t = dict.get(self, "_t")
        if t is None:
            t = self["_t"] = dt.datetime.now().astimezone()
        if zone:
            t = t.astimezone(clock_zone(zone))
        value = self[key] = self._CLOCK[name](t)
        return value

    def _is_clock(self, key: str) -> bool:
        name, at, zone = key.partition("@")
        return name in self._CLOCK and (not at or clock_zone(zone) is not None)

    def __missing__(self, key: str) -> Any:
        if self._is_clock(key):
            return self._clock(key)
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        if key in self:
            return dict.__getitem__(self, key)
        if self._is_clock(key):
            return self._clock(key)
        return default


@functools.lru_cache(maxsize=64)
def clock_zone(zone: str) -> dt.tzinfo | None:
    """``+08:00`` / ``-0530`` / ``UTC`` / ``Z`` / an IANA name -> tzinfo; None if unknown."""
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", zone)
    if m:
        offset = dt.timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
        return dt.timezone(-offset if m.group(1) == "-" else offset)
    if zone in ("UTC", "Z", "GMT"):
        return dt.timezone.utc
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(zone)
    except (ValueError, KeyError, OSError, ImportError):
        return None


def first_found(paths: list[str]) -> Callable[[Tree], Any]:
    """The first of ``paths`` holding a non-empty value, else MISSING.

    Gateways put their message in different places for different failures (TOP: ``sub_msg``
    for business errors, only ``msg`` for a bad signature), so ``message:`` may list several.
    """
    compiled = [Path(p) for p in paths]

    def read(tree: Tree) -> Any:
        for path in compiled:
            value = path.get(tree)
            if value not in (MISSING, None, ""):
                return value
        return MISSING
    return read


def make_success_check(rule: SuccessRule | None) -> Callable[[Tree], None] | None:
    """A business-level success rule: a 200 whose body says failure raises UpstreamError."""
    if rule is None:
        return None
    path = Path(rule.path)
    message = first_found(rule.messages())
    if rule.equals is not None:
        want = fmt(rule.equals)
        ok: Callable[[Any], bool] = lambda v: fmt(v) == want  # noqa: E731
        desc = f"{rule.path} = {want}"
    elif rule.not_equals is not None:
        bad = fmt(rule.not_equals)
        ok = lambda v: v is not MISSING and fmt(v) != bad  # noqa: E731
        desc = f"{rule.path} != {bad}"
    elif rule.in_ is not None:
        allowed = {fmt(x) for x in rule.in_}
        ok = lambda v: fmt(v) in allowed  # noqa: E731
        desc = f"{rule.path} in {sorted(allowed)}"
    else:
        bound, greater = (rule.gt, True) if rule.gt is not None else (rule.lt, False)

        def ok(v: Any) -> bool:
            try:
                num = float(v)
            except (TypeError, ValueError):
                return False
            return num > bound if greater else num < bound  # type: ignore[operator]
        desc = f"{rule.path} {'>' if greater else '<'} {bound:g}"  # type: ignore[str-format]

    def check(tree: Tree) -> None:
        value = path.get(tree)
        if ok(value):
            return
        text = message(tree)
        if text is MISSING:
            text = f"the target reported failure ({rule.path} = {fmt(value) or 'missing'}, expected {desc})"
        raise UpstreamError(str(text), code="upstream_rejected", upstream=tree)
    return check


def _uses_request(*templates: Any) -> bool:
    return "request" in repr(templates)


@dataclass(eq=False)
class Route:
    name: str
    config: RouteConfig
    codec: InboundCodec
    decode: Callable[[Inbound], tuple[Tree, str | None]]
    pipeline: Pipeline
    target: HttpTarget
    encode: Encoder
    decode_reply: Callable[[bytes, str, str | None], tuple[Tree, str | None]]
    success: Callable[[Tree], None] | None
    reply_pipeline: Pipeline
    error_template: Render | None
    secrets: Mapping[str, str]
    keep_request: bool
    out_headers: dict[str, str] = field(default_factory=dict)
    auth: Callable[[Message, str | None], None] | None = None
    failure_message: Callable[[Tree], Any] | None = None
    ordered_by: Path | None = None
    queue: Any = None               # set at startup for `delivery: queued` routes (bridge.app)

    @property
    def recover(self) -> bool:
        return self.config.inbound.recover

    def message(self, inb: Inbound, headers: Mapping[str, str], request_id: str) -> Message:
        body, root = self.decode(inb)
        meta = Meta(request_id=request_id, route=self.name, root=root or inb.key,
                    operation=inb.key if inb.format == "soap" else None, charset=inb.charset)
        request = copy.deepcopy(body) if self.keep_request else None
        return Message(body, headers=headers, meta=meta, request=request, secrets=self.secrets)

    async def handle(self, inb: Inbound, msg: Message) -> Rendered:
        out = self.config.outbound
        msg = await self.pipeline.run(msg) if self.pipeline.is_async else self.pipeline(msg)
        data, headers = self.encode(msg)
        headers = {**self.out_headers, **headers, "X-Request-ID": msg.meta["request_id"]}
        if out.delivery == "queued":
            tree = await self.enqueue(msg, data, headers)
        else:
            started = time.perf_counter()
            reply = await self.target.call(out.method, out.path, data, headers, idempotent=out.idempotent)
            msg.meta["upstream_status"] = reply.status
            msg.meta["upstream_ms"] = round((time.perf_counter() - started) * 1000, 2)
            tree = self.read_reply(reply)
        msg.body = tree
        rp = self.reply_pipeline
        msg = await rp.run(msg) if rp.is_async else rp(msg)
        reply_cfg = self.config.reply
        root = (reply_cfg.root if reply_cfg and reply_cfg.root else None) or msg.meta["root"] or "reply"
        ns = reply_cfg.namespace if reply_cfg else None
        if inb.format == "soap":
            soap = self.config.inbound.soap
            return self.codec.render(msg.body, inb, root=root, namespace=ns or (soap.namespace if soap else None),
                                     operation=inb.key, reply_param=soap.reply_param if soap else None)  # type: ignore[call-arg]
        return self.codec.render(msg.body, inb, root=root, namespace=ns, operation=None)

    def read_reply(self, reply: HttpReply) -> Tree:
        """The target's reply as a tree; an HTTP error or a failed `success:` rule raises."""
        if reply.status >= 400:
            message = f"target {self.target.name} answered HTTP {reply.status}"
            upstream: Any = None
            if reply.body:
                found: Any = MISSING
                try:
                    upstream, _ = self.decode_reply(reply.body, reply.media_type, reply.charset)
                    if self.failure_message is not None:
                        found = self.failure_message(upstream)
                except UpstreamError as fault:  # a SOAP Fault: the target's own words
                    if fault.code == "upstream_fault":
                        found = fault.message
                except BridgeError:
                    pass  # an HTML error page: the status says enough
                if found is not MISSING:
                    message += f": {found}"
            err = UpstreamError(message, code="upstream_status", upstream=upstream)
            err.upstream_status = reply.status
            raise err
        tree, _ = self.decode_reply(reply.body, reply.media_type, reply.charset)
        if self.success is not None:
            try:
                self.success(tree)
            except UpstreamError as err:
                err.upstream_status = reply.status
                raise
        return tree

    async def enqueue(self, msg: Message, data: bytes, headers: dict[str, str]) -> Tree:
        """`delivery: queued`: commit the request as it will be sent; the body for the reply
        pipeline is the acknowledgement ``{queued: true, message_id}``."""
        out = self.config.outbound
        key = None
        if self.ordered_by is not None:
            value = self.ordered_by.get(msg.body)
            key = None if value is MISSING or value in (None, "") else fmt(value)
        record = Record(id=uuid.uuid4().hex, route=self.name, target=self.target.name,
                        method=out.method, path=out.path, headers=headers, body=data, ordered_key=key)
        if self.queue is None:
            raise Unavailable("the delivery store is not open", code="store_unavailable")
        await self.queue.put(record)
        msg.meta["outcome"] = "queued"
        msg.meta["message_id"] = record.id
        return {"queued": True, "message_id": record.id}

    async def deliver(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> int:
        """One delivery attempt of a queued message (the worker retries); raises on failure,
        including a failed `success:` rule: that is not delivered."""
        reply = await self.target.call(method, path, body, headers, idempotent=False)
        self.read_reply(reply)
        return reply.status

    def render_error(self, err: BridgeError, inb: Inbound, msg: Message | None) -> Rendered:
        errors = self.config.errors
        tree: Tree | None = None
        if self.error_template is not None:
            emsg = Message(msg.body if msg else None, meta=msg.meta if msg else {"route": self.name},
                           request=msg.request if msg else None, error=err.as_tree(),
                           secrets=self.secrets)
            tree = self.error_template(emsg)
        root = (errors.root if errors and errors.root else None) or (msg.meta["root"] if msg else None) or inb.key
        business = errors is not None and self._called(inb, msg)
        if inb.format == "soap" and business and not errors.fault:  # type: ignore[union-attr]
            # the vendor's business failure shape (DESIGN §6): a normal SOAP response whose
            # return carries the rendered template, e.g. <Response><ResultCode>1</ResultCode>...
            # Only for a call of this route (_called): a broken envelope or an unknown
            # operation has no <{operation}Response> to answer with, and stays a Fault.
            soap = self.config.inbound.soap
            body = tree if tree is not None else {k: v for k, v in err.as_tree().items() if k != "upstream"}
            ok = self.codec.render(body, inb, root=root, namespace=soap.namespace if soap else None,  # type: ignore[call-arg]
                                   operation=inb.key, reply_param=soap.reply_param if soap else None)
            return Rendered(ok.body, ok.content_type, errors.status or 200)
        rendered = self.codec.render_error(err, inb, tree=tree, root=root, namespace=None)
        if business and errors.status and inb.format != "soap":  # type: ignore[union-attr]
            return Rendered(rendered.body, rendered.content_type, errors.status)  # type: ignore[union-attr]
        return rendered

    def _called(self, inb: Inbound, msg: Message | None) -> bool:
        """Whether a failure belongs to a call of this route — its document was read, or its root
        element / SOAP operation named — so the vendor's business failure shape (errors.status,
        errors.fault: false) applies. Before that (a malformed document, an unknown operation,
        a hostile DTD) the protocol's own answer does: 400, 415, a Fault."""
        if msg is not None:
            return True
        match = self.config.inbound.match
        return inb.key is not None and match is not None and inb.key in (match.root, match.operation)


@dataclass(eq=False)
class PathDispatch:
    """All routes sharing one path: parse once, pick the route by its match."""

    path: str
    format: str
    codec: InboundCodec
    routes: list[Route]
    by_key: dict[str, Route]
    by_field: list[tuple[Path, set[str], Route]]
    fallback: Route | None
    parse_options: ParseOptions
    strict_options: ParseOptions
    max_body: int                   # server.max_body, read once

    @property
    def error_route(self) -> Route:
        """Whose `errors:` answer failures before a route is chosen (bad body, no match):
        the catch-all route if there is one, else the first route on the path."""
        return self.fallback or self.routes[0]

    def select(self, inb: Inbound) -> Route:
        if inb.key is not None and inb.key in self.by_key:
            return self.by_key[inb.key]
        for path, values, route in self.by_field:
            if fmt(path.get(inb.doc)) in values:
                return route
        if self.fallback is not None:
            return self.fallback
        raise NoRoute(self._no_route_message(inb))

    def _no_route_message(self, inb: Inbound) -> str:
        if self.by_key:
            what = "SOAP operation" if self.format == "soap" else "root element"
            return (f"no route on {self.path} for {what} <{inb.key}>; expected one of: "
                    + ", ".join(sorted(self.by_key)))
        fields = ", ".join(f"{p.text} in {sorted(v)}" for p, v, _ in self.by_field)
        return f"no route on {self.path} matches this message; expected {fields}"


@dataclass(eq=False)
class Runtime:
    loaded: Loaded
    metrics: Metrics
    targets: dict[str, HttpTarget]
    paths: dict[str, PathDispatch]
    routes: list[Route]

    @property
    def config(self) -> Any:
        return self.loaded.config


def compile_runtime(loaded: Loaded, metrics: Metrics) -> Runtime:
    """Build every route; raise ConfigError listing every problem with its position."""
    cfg = loaded.config
    problems: Problems = loaded.problems
    # With a partially valid config (loader.load(partial=True)) invalid targets and routes are
    # None: already reported, skipped here, their names still known.
    targets = {name: HttpTarget(name, t, metrics) for name, t in cfg.targets.items() if t is not None}
    routes: list[Route] = []
    names: set[str] = set()
    for i, rc in enumerate(cfg.routes):
        if rc is None:
            continue
        loc = ("routes", i)
        if rc.name in names:
            problems.add(loc + ("name",), f"route name {rc.name!r} is used twice")
        names.add(rc.name)
        route = _compile_route(rc, loc, loaded, targets, metrics, problems)
        if route is not None:
            routes.append(route)
    paths = _dispatch_table(routes, cfg, problems)
    problems.raise_if_any()
    metrics.prepare([r.name for r in routes], list(targets))
    return Runtime(loaded, metrics, targets, paths, routes)


def _compile_route(rc: RouteConfig, loc: tuple[Any, ...], loaded: Loaded,
                   targets: dict[str, HttpTarget], metrics: Metrics, problems: Problems) -> Route | None:
    cfg = loaded.config
    ctx = BuildContext(base_dir=loaded.base_dir, route=rc.name, secrets=cfg.secrets, targets=targets)
    inbound, out = rc.inbound, rc.outbound
    bad = len(problems.lines)
    target = targets.get(out.target)
    if target is None and out.target not in cfg.targets:
        problems.add(loc + ("outbound", "target"),
                     f"unknown target {out.target!r}{did_you_mean(out.target, cfg.targets)}"
                     + ("" if cfg.targets else " (no targets are defined)"))
    if out.ordered_by is not None:
        _check_path(out.ordered_by, loc + ("outbound", "ordered_by"), problems)
        if out.delivery != "queued":
            problems.add(loc + ("outbound", "ordered_by"), "ordered_by needs delivery: queued")
        elif cfg.store.startswith(("nats://", "tls://")):  # a shared work queue has no per-key gate
            problems.add(loc + ("outbound", "ordered_by"),
                         "ordered_by is honoured only by the sqlite store, not by a nats:// store")
    try:
        auth = build_auth(inbound.auth, cfg.secrets)
    except ValueError as exc:
        problems.add(loc + ("inbound", "auth"), str(exc))
    if out.format == "soap" and not (out.soap and out.soap.operation):
        problems.add(loc + ("outbound",), "format: soap needs soap: {operation: ...}")
    if inbound.match is not None:
        kinds = {"xml": "root", "soap": "operation", "json": "field", "form": "field"}
        want = kinds[inbound.format]
        got = next(k for k in ("root", "operation", "field") if getattr(inbound.match, k) is not None)
        if got != want:
            problems.add(loc + ("inbound", "match"), f"a {inbound.format} route matches by {want}, not {got}")
    for li, lpath in enumerate(inbound.lists):
        _check_path(lpath, loc + ("inbound", "lists", li), problems)
    pipeline = compile_steps(rc.pipeline, loc + ("pipeline",), ctx, problems)
    reply_steps = compile_steps(rc.reply.pipeline if rc.reply else [], loc + ("reply", "pipeline"), ctx, problems)
    error_template = compile_tree(rc.errors.template) if rc.errors and rc.errors.template is not None else None
    if len(problems.lines) > bad or target is None:
        return None
    codec = CODECS[inbound.format]
    xsd_lists = schema_lists(rc.pipeline, inbound, ctx.resolve)
    if xsd_lists:  # DESIGN §2: what the route's XSD says repeats is a list even when it occurs once
        inbound = inbound.model_copy(update={"lists": [*inbound.lists, *xsd_lists]})
    keep_request = _uses_request(rc.reply.pipeline if rc.reply else None,
                                 rc.errors.template if rc.errors else None)
    keymap, pipeline = _fuse_leading_rename(codec, pipeline, keep_request)
    return Route(
        name=rc.name, config=rc, codec=codec,
        decode=(codec.decoder(inbound, cfg.server.max_depth, keymap=keymap)  # type: ignore[call-arg]
                if keymap is not None else codec.decoder(inbound, cfg.server.max_depth)),
        pipeline=Pipeline(pipeline, rc.name, metrics.step_errors),
        target=target, encode=make_encoder(out), decode_reply=make_reply_decoder(out),
        success=make_success_check(out.success),
        reply_pipeline=Pipeline(reply_steps, rc.name, metrics.step_errors, reply_side=True),
        error_template=error_template, secrets=cfg.secrets,
        keep_request=keep_request,
        out_headers={**target.cfg.headers, **out.headers},
        auth=auth,
        failure_message=first_found(out.success.messages()) if out.success else None,
        ordered_by=Path(out.ordered_by) if out.ordered_by else None,
    )


def _fuse_leading_rename(codec: InboundCodec, steps: list[tuple[str, Any]], keep_request: bool
                         ) -> tuple[Callable[[str], str] | None, list[tuple[str, Any]]]:
    """A first step that renames every key (`rename` without paths, `case` without keep/paths)
    runs inside the XML/SOAP decoder, as the tree is built, instead of walking it again.

    The body is the same either way (tests/property/test_fused_rename.py). Not done when a
    template reads ``request`` (the caller's body as decoded, before the step)."""
    if not steps or keep_request or not getattr(codec, "renames_keys", False):
        return None, steps
    key_function = getattr(steps[0][1], "key_function", None)
    keymap = key_function() if key_function is not None else None
    if keymap is None:
        return None, steps
    return keymap, steps[1:]


def _check_path(text: str, loc: tuple[Any, ...], problems: Problems) -> None:
    try:
        Path(text)
    except ValueError as exc:
        problems.add(loc, str(exc))


def _dispatch_table(routes: list[Route], cfg: Any, problems: Problems) -> dict[str, PathDispatch]:
    index = {id(rc): i for i, rc in enumerate(cfg.routes)}
    grouped: dict[str, list[Route]] = {}
    for route in routes:
        grouped.setdefault(route.config.inbound.path, []).append(route)
    table: dict[str, PathDispatch] = {}
    for path, group in grouped.items():
        fmt_ = group[0].config.inbound.format
        by_key: dict[str, Route] = {}
        by_field: list[tuple[Path, set[str], Route]] = []
        fallback: Route | None = None
        for route in group:
            loc = ("routes", index[id(route.config)], "inbound")
            if route.config.inbound.format != fmt_:
                problems.add(loc + ("format",), f"routes sharing {path} must share one format "
                             f"({group[0].name} uses {fmt_})")
                continue
            m = route.config.inbound.match
            if m is None:
                if fallback is not None:
                    problems.add(loc, f"routes {fallback.name} and {route.name} share {path} and "
                                 "neither has a match:")
                fallback = route
            elif m.root or m.operation:
                key = (m.root or m.operation)  # type: ignore[assignment]
                if key in by_key:
                    problems.add(loc + ("match",), f"{by_key[key].name} already matches {key!r} on {path}")
                by_key[key] = route
            elif m.field:
                values = {fmt(v) for v in (m.in_ if m.in_ is not None else [m.equals])}
                by_field.append((Path(m.field), values, route))
        server = cfg.server
        charsets = {r.config.inbound.charset for r in group}
        route_charset = group[0].config.inbound.charset if len(charsets) == 1 else "auto"
        table[path] = PathDispatch(
            path, fmt_, CODECS[fmt_], group, by_key, by_field, fallback,
            ParseOptions(route_charset, any(r.recover for r in group), server.max_depth),
            ParseOptions(route_charset, False, server.max_depth), server.max_body)
    return table
