"""``call``: ask a target something in the middle of a pipeline and keep its answer.

A vendor's call often needs a value the caller does not send — an id of the vendor's own (the
palm-hospital HIS wants ``patient_id`` where the registration platform sends an ID-card number;
a lock's fee is known only to the HIS). The route obtains it from another call of the target's
own document instead of inventing it (seeds/INDEX.md, "How the documents meet"):

    - call:
        target: palm_his
        path: /query
        body: {APPT_ID: "{APPT_ID}", DATA_SOURCE: w1}      # a template, rendered on the message
        success: {path: ResultCode, equals: 0, message: ResultMsg}
        into: appointment                                   # the reply lands at body.appointment

The request is encoded like an outbound of that format (json, form, xml, soap), sent through the
target's own pool, timeout, breaker and metrics, with the message's ``X-Request-ID``; the reply
is decoded by its Content-Type. A failed ``success`` rule, an HTTP error or an unreachable target
ends the request like the route's own outbound would (502/504, in the caller's dialect), with
the target's reply as ``error.upstream``. Calls are never retried (``idempotent: true`` allows
the connection-level resend). The step is asynchronous: the pipeline awaits it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from bridge.config.models import SoapOptions, SuccessRule
from bridge.errors import UpstreamError
from bridge.message import Message
from bridge.paths import MISSING, Path
from bridge.placeholders import compile_tree
from bridge.registry import BuildContext, Example, StepConfig, register_step
from bridge.types import Step


class CallConfig(StepConfig):
    target: str = Field(description="a target of `targets:`")
    path: str = Field("", description="path on the target")
    method: Literal["POST", "PUT", "PATCH", "GET", "DELETE"] = "POST"
    format: Literal["json", "form", "xml", "soap"] = Field("json", description="how the body is sent")
    body: Any = Field(None, description="the request: a template tree (placeholders read the message)")
    into: str = Field(description="dotted body path where the decoded reply is put")
    success: SuccessRule | None = Field(None, description="business-level success, as outbound.success")
    root: str | None = Field(None, description="xml/soap: root element of the request document")
    namespace: str | None = None
    soap: SoapOptions | None = None
    charset: str = "utf-8"
    lists: list[str] = Field(default_factory=list, description="lists in the target's XML reply")
    idempotent: bool = Field(False, description="a connection closed under the call may resend it")


class CallStep:
    """The compiled step; ``is_async`` tells the pipeline to await it."""

    is_async = True
    __slots__ = ("cfg", "targets", "render", "encode", "decode", "success", "into")

    def __init__(self, cfg: CallConfig, targets: Any, render: Any, encode: Any, decode: Any,
                 success: Any) -> None:
        self.cfg, self.targets, self.render = cfg, targets, render
        self.encode, self.decode, self.success = encode, decode, success
        self.into = Path(cfg.into)

    async def __call__(self, msg: Message) -> Message:
        cfg = self.cfg
        target = self.targets[cfg.target]   # looked up per call: `bridge test` swaps in fakes
        rendered = self.render(msg)
        request = Message(None if rendered is MISSING else rendered, meta=msg.meta, secrets=msg.secrets)
        data, headers = self.encode(request)
        headers = {**target.cfg.headers, **headers, "X-Request-ID": msg.meta.get("request_id", "")}
        reply = await target.call(cfg.method, cfg.path, data, headers, idempotent=cfg.idempotent)
        upstream: Any = None
        if reply.body:
            try:
                upstream, _ = self.decode(reply.body, reply.media_type, reply.charset)
            except UpstreamError:
                if reply.status < 400:
                    raise
        if reply.status >= 400:
            err = UpstreamError(f"target {cfg.target} answered HTTP {reply.status} to {cfg.path or '/'}",
                                code="upstream_status", upstream=upstream)
            err.upstream_status = reply.status
            raise err
        if self.success is not None:
            try:
                self.success(upstream if upstream is not None else {})
            except UpstreamError as err:
                err.upstream_status = reply.status
                raise
        body = msg.body if isinstance(msg.body, dict) else {}
        self.into.set(body, upstream if upstream is not None else {})
        msg.body = body
        return msg


@register_step("call", CallConfig, examples=[
    Example(title="the HIS's own patient id for an ID-card number (seed 003 /getPatient)",
            config={"target": "palm_his", "path": "/getPatient",
                    "body": {"id_no": "{IDCode}", "op_flag": 1},
                    "success": {"path": "head.code", "gt": 0, "message": "head.msg"},
                    "into": "his"},
            input={"IDCode": "330102199001011234", "WorkId": "S-0001"},
            replies={"palm_his": {"head": {"code": 1, "msg": "ok"},
                                  "patient": {"id": "P0001", "name": "张三"}}},
            output={"IDCode": "330102199001011234", "WorkId": "S-0001",
                    "his": {"head": {"code": 1, "msg": "ok"},
                            "patient": {"id": "P0001", "name": "张三"}}}),
    Example(title="a refusal ends the request with the target's words (and error.upstream)",
            config={"target": "palm_his", "path": "/getPatient", "body": {"id_no": "{IDCode}"},
                    "success": {"path": "head.code", "gt": 0, "message": "head.msg"},
                    "into": "his"},
            input={"IDCode": "000"},
            replies={"palm_his": {"head": {"code": -1, "msg": "患者不存在"}}},
            error="UpstreamError"),
])
def build(cfg: CallConfig, ctx: BuildContext) -> Step:
    """Call a target mid-pipeline (a lookup of the target's own ids, a price, a detail) and put
    its decoded reply at ``into``; failures end the request like the route's outbound."""
    from bridge.config.models import OutboundConfig
    from bridge.connectors.encode import make_encoder, make_reply_decoder
    from bridge.runtime import make_success_check

    if ctx.targets is not None and cfg.target not in ctx.targets:
        raise ValueError(f"call: unknown target {cfg.target!r}")
    if cfg.format == "soap" and not (cfg.soap and cfg.soap.operation):
        raise ValueError("call: format: soap needs soap: {operation: ...}")
    out = OutboundConfig(target=cfg.target, path=cfg.path, method=cfg.method, format=cfg.format,
                         root=cfg.root, namespace=cfg.namespace, soap=cfg.soap, charset=cfg.charset,
                         lists=list(cfg.lists), success=cfg.success)
    return CallStep(cfg, ctx.targets if ctx.targets is not None else {}, compile_tree(cfg.body),
                    make_encoder(out), make_reply_decoder(out), make_success_check(out.success))
