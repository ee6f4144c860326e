"""``sign``: request signatures gateways check before anything else.

``scheme: top`` is the TOP gateway signature (seed 000, AliHealth/Taobao open platform): every
body field present at that point except ``sign`` itself, sorted by key (ASCII order), joined as
``key1value1key2value2...``, each value as the form encoder will send it (dicts and lists as
compact JSON, ``true``/``false``, null as ""). ``method: md5`` is
``MD5(secret + joined + secret)``, ``method: hmac`` is ``HMAC-MD5(secret, joined)``; the result is
upper-case hex in ``sign``. Gateway fields (``app_key``, ``timestamp``, ``sign_method``, ``v``)
are added with ``set`` before this step, so they are signed too.

``scheme: hmac-sha256`` signs a rendered template instead: ``HMAC-SHA256(secret, of)`` into
``field`` (lower-case hex unless ``upper: true``). The secret is named, checked at load time and
never shown.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Literal

import orjson
from pydantic import Field, model_validator

from bridge.errors import StepFailed
from bridge.message import Message
from bridge.placeholders import Render, compile_string, fmt
from bridge.registry import BuildContext, Example, StepConfig, register_step
from bridge.steps.hash import check_secret_refs
from bridge.types import Step

DEV_SECRET = "dev-only-top-secret"  # documented examples only


class SignConfig(StepConfig):
    scheme: Literal["top", "hmac-sha256"] = Field(description="signature scheme")
    secret: str = Field(description="name of the secret that keys the signature")
    method: Literal["md5", "hmac"] | None = Field(None, description=(
        "top: md5 (default) or hmac, as the gateway's sign_method says"))
    field: str = Field("sign", description="top-level field that receives the signature")
    of: str | None = Field(None, description="hmac-sha256: template of the signed text")
    upper: bool | None = Field(None, description="hmac-sha256: upper-case hex (top: always)")

    @model_validator(mode="after")
    def _scheme(self) -> "SignConfig":
        if self.scheme == "top":
            if self.of is not None or self.upper is not None:
                raise ValueError("scheme top signs the body fields; of and upper apply to "
                                 "hmac-sha256")
        else:
            if self.of is None:
                raise ValueError("scheme hmac-sha256 needs of: (the template of the signed text)")
            if self.method is not None:
                raise ValueError("method applies to scheme top")
        return self


def sign_value(value: Any) -> str:
    """A field's value as the form encoder sends it (bridge.connectors.encode._form_value)."""
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode("utf-8")
    return fmt(value)


def top_signature(params: dict[str, Any], secret: str, method: str, skip: str = "sign") -> str:
    """The TOP signature of ``params``, upper-case hex.

    As the TOP gateway and its SDKs do: every parameter but ``skip`` whose value is not empty
    (empty ones are not signed; the gateway ignores them), sorted by name, ``name + value``.
    """
    values = ((k, sign_value(params[k])) for k in sorted(params) if k != skip)
    joined = "".join(k + v for k, v in values if v != "")
    if method == "hmac":
        return hmac.new(secret.encode("utf-8"), joined.encode("utf-8"), hashlib.md5).hexdigest().upper()
    return hashlib.md5((secret + joined + secret).encode("utf-8")).hexdigest().upper()


class TopSign:
    __slots__ = ("secret", "method", "field")

    def __init__(self, secret: str, method: str, field: str) -> None:
        self.secret = secret
        self.method = method
        self.field = field

    def __call__(self, msg: Message) -> Message:
        if not isinstance(msg.body, dict):
            raise StepFailed("sign: scheme top signs form fields; the body is not a mapping")
        msg.body[self.field] = top_signature(msg.body, self.secret, self.method, self.field)
        return msg


class HmacSign:
    __slots__ = ("secret", "render", "field", "upper")

    def __init__(self, secret: str, render: Render, field: str, upper: bool) -> None:
        self.secret = secret
        self.render = render
        self.field = field
        self.upper = upper

    def __call__(self, msg: Message) -> Message:
        text = fmt(self.render(msg)).encode("utf-8")
        digest = hmac.new(self.secret.encode("utf-8"), text, hashlib.sha256).hexdigest()
        if msg.body is None or msg.body == "":
            msg.body = {}
        if not isinstance(msg.body, dict):
            raise StepFailed("sign: the body is not a mapping")
        msg.body[self.field] = digest.upper() if self.upper else digest
        return msg


_TOP_REQUEST = {
    "method": "alibaba.alihealth.examination.todoor.serviceinfo.sync",
    "app_key": "12345678", "timestamp": "2024-08-16 18:23:01", "v": "2.0",
    "sign_method": "md5", "format": "json",
    "uniq_reserve_code": "rew4", "event": "PRACTITONER_HOME", "reserve_number": "1234r",
    "medical_practitioner_info": {"outer_practitioner_id": "123", "name": "张护士"},
}


@register_step("sign", SignConfig, examples=[
    Example(title="seed 000: TOP gateway MD5 signature; the nested object is signed as JSON",
            config={"scheme": "top", "secret": "top_secret", "method": "md5"},
            input=_TOP_REQUEST,
            output={**_TOP_REQUEST, "sign": "183C5EE5FC6E3D0683E19B6B28F21AEB"},
            secrets={"top_secret": DEV_SECRET}),
    Example(title="TOP with sign_method hmac (HMAC-MD5)",
            config={"scheme": "top", "secret": "top_secret", "method": "hmac"},
            input={**_TOP_REQUEST, "sign_method": "hmac"},
            output={**_TOP_REQUEST, "sign_method": "hmac", "sign": "EDA72319897A5820158C1ECD8D19DCA5"},
            secrets={"top_secret": DEV_SECRET}),
    Example(title="HMAC-SHA256 over a template",
            config={"scheme": "hmac-sha256", "secret": "api_secret", "field": "signature",
                    "of": "{appId}{timestamp}"},
            input={"appId": "A1", "timestamp": "1723803781"},
            output={"appId": "A1", "timestamp": "1723803781", "signature":
                    "c62a425282a4be9fd2e950caabb92397ca16cd8b2a21be513be8ca64510356de"},
            secrets={"api_secret": DEV_SECRET}),
])
def build(cfg: SignConfig, ctx: BuildContext) -> Step:
    """Sign the request: the TOP gateway signature over every body field (MD5 or HMAC-MD5,
    upper-case hex into sign), or HMAC-SHA256 over a template."""
    if cfg.secret not in ctx.secrets:
        raise ValueError(f"sign: secret {cfg.secret!r} is not defined in secrets:")
    secret = str(ctx.secrets[cfg.secret])
    if cfg.scheme == "top":
        return TopSign(secret, cfg.method or "md5", cfg.field)
    assert cfg.of is not None
    check_secret_refs(cfg.of, ctx, "sign")
    return HmacSign(secret, compile_string(cfg.of), cfg.field, bool(cfg.upper))
