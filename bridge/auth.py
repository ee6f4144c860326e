"""Inbound authentication, one small checker per `auth.type`, secrets compared in constant time.

Credentials are named by secret (``secrets:``), never written inline, so they stay out of
routes.yaml diffs, logs and error messages. Missing credentials are 401, wrong ones 401,
a caller outside ``ip_allow`` 403.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from typing import Any, Callable, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field

from bridge.errors import Forbidden, Unauthorized
from bridge.message import Message
from bridge.paths import MISSING, Path
from bridge.placeholders import fmt

#: check(message, remote address) raises Unauthorized/Forbidden or returns None.
Check = Callable[[Message, "str | None"], None]


class _Auth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoAuth(_Auth):
    type: Literal["none"] = "none"


class ApiKeyAuth(_Auth):
    type: Literal["api_key"]
    header: str = "X-API-Key"
    keys: list[str] = Field(min_length=1, description="names of secrets holding accepted keys")


class BasicAuth(_Auth):
    type: Literal["basic"]
    users: dict[str, str] = Field(min_length=1, description="user name -> name of its password secret")


class JsonFieldsAuth(_Auth):
    """Seed 002's envelope: credentials travel in body fields (`systemId`, `systemKey`)."""

    type: Literal["json_fields"]
    fields: dict[str, str] = Field(min_length=1, description="body path -> name of the secret it must equal")


class IpAllowAuth(_Auth):
    type: Literal["ip_allow"]
    allow: list[str] = Field(min_length=1, description="addresses or CIDR networks")


AuthConfig = NoAuth | ApiKeyAuth | BasicAuth | JsonFieldsAuth | IpAllowAuth


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _secret(secrets: Mapping[str, str], name: str) -> str:
    if name not in secrets:
        raise ValueError(f"secret {name!r} is not defined under secrets:")
    return secrets[name]


def build(cfg: Any, secrets: Mapping[str, str]) -> Check | None:
    """A ready checker for the route, or None for `type: none`; ValueError on a bad config."""
    if isinstance(cfg, NoAuth):
        return None
    if isinstance(cfg, ApiKeyAuth):
        keys = [_secret(secrets, k) for k in cfg.keys]
        header = cfg.header

        def api_key(msg: Message, remote: str | None) -> None:
            given = msg.headers.get(header)
            if not given:
                raise Unauthorized(f"missing {header} header")
            if not any([_same(given, k) for k in keys]):  # all compared: no early exit
                raise Unauthorized(f"invalid {header}")
        return api_key
    if isinstance(cfg, BasicAuth):
        users = {u: _secret(secrets, s) for u, s in cfg.users.items()}

        def basic(msg: Message, remote: str | None) -> None:
            header = msg.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "basic" or not token:
                raise Unauthorized("missing Basic credentials")
            try:
                user, _, password = base64.b64decode(token, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise Unauthorized("malformed Basic credentials") from None
            expected = users.get(user)
            ok = _same(password, expected if expected is not None else "\0" + password)
            if expected is None or not ok:
                raise Unauthorized("invalid credentials")
        return basic
    if isinstance(cfg, JsonFieldsAuth):
        pairs = [(Path(p), _secret(secrets, s)) for p, s in cfg.fields.items()]

        def json_fields(msg: Message, remote: str | None) -> None:
            tree = msg.request if msg.request is not None else msg.body
            missing = [p.text for p, _ in pairs if p.get(tree) in (MISSING, None, "")]
            if missing:
                raise Unauthorized(f"missing credentials: {', '.join(missing)}")
            results = [_same(fmt(p.get(tree)), v) for p, v in pairs]
            if not all(results):
                raise Unauthorized("invalid credentials")
        return json_fields
    if isinstance(cfg, IpAllowAuth):
        nets = [ipaddress.ip_network(a, strict=False) for a in cfg.allow]

        def ip_allow(msg: Message, remote: str | None) -> None:
            try:
                addr = ipaddress.ip_address(remote or "")
            except ValueError:
                raise Forbidden("caller address unknown") from None
            if not any(addr in n for n in nets):
                raise Forbidden(f"caller {addr} is not allowed")
        return ip_allow
    raise ValueError(f"unknown auth type {cfg!r}")
