"""Simulator of the AliHealth open platform's TOP gateway (seed 000, 阿里健康 TOP).

It implements one API, ``alibaba.alihealth.examination.todoor.serviceinfo.sync`` (a home-visit
provider syncs nurse/practitioner events), behind TOP's gateway rules, checked the way TOP
checks them, so a route that mis-signs, mis-encodes or forgets a parameter fails here:

- ``POST`` (or ``GET``) ``/router/rest``, parameters form-encoded (``application/x-www-form-
  urlencoded; charset=utf-8``) and/or in the query string;
- system parameters ``method``, ``app_key``, ``timestamp`` (``yyyy-MM-dd HH:mm:ss``, read as
  GMT+8 as TOP reads it, whatever the simulator's host zone; ±10 minutes), ``format`` (json | xml), ``v`` (2.0),
  ``sign_method`` (md5 | hmac) and ``sign``, recomputed here from the published algorithm (not
  from bridge's ``sign`` step): every non-empty parameter but ``sign``, sorted by name,
  concatenated ``k1v1k2v2...``; md5 = MD5(secret + s + secret), hmac = HMAC-MD5(secret, s);
  upper-case hex;
- the API's business parameters from the seed's table (``API_PARAMS`` / ``PRACTITIONER_PARAMS``
  below, as data), the nested ``medical_practitioner_info`` parsed from its JSON string.

Every answer is HTTP 200, as TOP's: success ``{"<method_with_underscores>_response": {...}}``,
failure ``{"error_response": {code, msg, sub_code?, sub_msg?, request_id}}``. Codes used (TOP's
public error table): 21/22 missing/invalid method, 23 invalid format, 24/25 missing/invalid
signature, 28/29 missing/invalid app key, 30/31 missing/invalid timestamp, 32/34 missing/
unsupported version, 40 missing required arguments (sub_code ``isv.missing-parameter``), 41
invalid arguments (``isv.invalid-parameter``), 50 remote service error (``isv.invalid-parameter``
from the API itself, the seed's own example).

Credentials: the development pair ``DEV_APP_KEY`` / ``DEV_APP_SECRET`` (dev only, also the
defaults of routes.yaml); ``TOP_APP_KEY`` + ``TOP_APP_SECRET`` in the
environment add one more. Plus the ``/_sim/*`` test routes of ``bridge.sim.base``; recorded
requests carry ``form`` (the merged parameters) and ``body`` (the raw text).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import os
import secrets
import string
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import orjson
from aiohttp import web
from lxml import etree

from bridge.sim import register_sim
from bridge.sim.base import SIM_STATE, json_response, new_app

DEV_APP_KEY = "dev-only-top-app-key"                       # development only, never production
DEV_APP_SECRET = "dev-only-top-app-secret-0123456789abcdef"  # development only
API = "alibaba.alihealth.examination.todoor.serviceinfo.sync"
RESPONSE_KEY = API.replace(".", "_") + "_response"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
FRESHNESS = dt.timedelta(minutes=10)   # TOP refuses a timestamp more than 10 minutes off
GMT8 = dt.timezone(dt.timedelta(hours=8))   # TOP's clock: timestamps are read as GMT+8
MAX_EVENTS = 10_000

# Seed 000 事件 column: the seed's own spelling (PRACTITONER) is what TOP accepts.
EVENTS = frozenset({"ASSIGNED_PRACTITONER", "PRACTITONER_GO_OUT", "PRACTITONER_HOME",
                    "PRACTITONER_CHECKED", "CHANGE_PRACTITONER"})
GENDERS = frozenset({"MALE", "FEMALE"})


def _timestamp(value: str) -> str | None:
    try:
        dt.datetime.strptime(value, TIMESTAMP_FORMAT)
        return None
    except ValueError:
        return f"expected yyyy-MM-dd HH:mm:ss, got {value!r}"


@dataclass(frozen=True)
class Param:
    """One row of the seed's 请求参数 table: 类型, 是否必须, and the values 描述 allows.

    The seed states no lengths, so none are invented here.
    """

    type: str                       # "String" or the name of a nested object type
    required: bool
    choices: frozenset[str] | None = None
    check: Callable[[str], str | None] | None = None


# Seed 000 请求参数 (top level).
API_PARAMS: dict[str, Param] = {
    "uniq_reserve_code": Param("String", True),                        # 服务商预约凭证
    "medical_practitioner_info": Param("MedicalPractitionerInfo", True),  # 从业者信息
    "event_occur_time": Param("String", False, check=_timestamp),      # 事件发生时间
    "event": Param("String", True, choices=EVENTS),                    # 事件
    "reserve_number": Param("String", True),                           # 健康预约凭证
}

# Seed 000 MedicalPractitionerInfo (the └ rows).
PRACTITIONER_PARAMS: dict[str, Param] = {
    "gender": Param("String", False, choices=GENDERS),                 # 性别 MALE / FEMALE
    "phone": Param("String", False),                                   # 从业者手机号
    "outer_practitioner_id": Param("String", True),                    # 外部系统从业者id
    "name": Param("String", False),                                    # 从业者姓名
    "certifications_url": Param("String", False),                      # 资质证书图片链接
    "practice_agency_name": Param("String", False),                    # 执业机构名称
    "practice_agency_province": Param("String", False),                # 执业机构所在省份
    "practice_agency_province_code": Param("String", False),           # 省份Code
}


class TopError(Exception):
    """A gateway or API failure, answered as ``error_response`` with HTTP 200."""

    def __init__(self, code: int, msg: str, sub_code: str | None = None,
                 sub_msg: str | None = None) -> None:
        super().__init__(msg)
        self.code, self.msg, self.sub_code, self.sub_msg = code, msg, sub_code, sub_msg

    def tree(self, request_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "msg": self.msg}
        if self.sub_code:
            out["sub_code"] = self.sub_code
            out["sub_msg"] = self.sub_msg or ""
        out["request_id"] = request_id
        return out


def top_sign(params: Mapping[str, str], secret: str, method: str) -> str:
    """TOP's published signature over every non-empty parameter except ``sign``."""
    text = "".join(k + v for k, v in sorted(params.items()) if k != "sign" and k and v)
    if method == "hmac":
        return hmac.new(secret.encode(), text.encode(), hashlib.md5).hexdigest().upper()
    return hashlib.md5((secret + text + secret).encode()).hexdigest().upper()


def known_apps() -> dict[str, str]:
    apps = {DEV_APP_KEY: DEV_APP_SECRET}
    key, secret = os.environ.get("TOP_APP_KEY"), os.environ.get("TOP_APP_SECRET")
    if key and secret:
        apps[key] = secret
    return apps


def check_gateway(p: Mapping[str, str], apps: Mapping[str, str], now: dt.datetime) -> None:
    """System parameters, in the order TOP reports them."""
    app_key = p.get("app_key", "")
    if not app_key:
        raise TopError(28, "Missing App Key")
    if app_key not in apps:
        raise TopError(29, "Invalid App Key")
    method = p.get("method", "")
    if not method:
        raise TopError(21, "Missing Method")
    if method != API:
        raise TopError(22, "Invalid Method")
    if p.get("format", "xml") not in ("json", "xml"):
        raise TopError(23, "Invalid Format")
    version = p.get("v", "")
    if not version:
        raise TopError(32, "Missing Version")
    if version != "2.0":
        raise TopError(34, "Unsupported Version")
    stamp = p.get("timestamp", "")
    if not stamp:
        raise TopError(30, "Missing Timestamp")
    try:
        when = dt.datetime.strptime(stamp, TIMESTAMP_FORMAT)
    except ValueError:
        raise TopError(31, "Invalid Timestamp", "isv.invalid-parameter",
                       f"timestamp must be yyyy-MM-dd HH:mm:ss, got {stamp!r}") from None
    if abs(when - now) > FRESHNESS:
        raise TopError(31, "Invalid Timestamp", "isv.invalid-parameter",
                       f"timestamp {stamp} is more than {FRESHNESS} away from the server time")
    sign_method = p.get("sign_method", "md5")
    if sign_method not in ("md5", "hmac"):
        raise TopError(41, "Invalid Arguments:sign_method", "isv.invalid-parameter",
                       f"sign_method must be md5 or hmac, got {sign_method!r}")
    if not p.get("sign"):
        raise TopError(24, "Missing Signature")
    if not hmac.compare_digest(p["sign"].upper(), top_sign(p, apps[app_key], sign_method)):
        raise TopError(25, "Invalid Signature")


def _check_value(name: str, value: Any, param: Param) -> None:
    if not isinstance(value, str):
        raise TopError(41, f"Invalid Arguments:{name}", "isv.invalid-parameter",
                       f"非法参数: {name} must be a String, got {type(value).__name__}")
    if param.choices is not None and value not in param.choices:
        raise TopError(50, "Remote service error", "isv.invalid-parameter",
                       f"非法参数: {name} must be one of {', '.join(sorted(param.choices))}, "
                       f"got {value!r}")
    if param.check is not None and (problem := param.check(value)) is not None:
        raise TopError(41, f"Invalid Arguments:{name}", "isv.invalid-parameter",
                       f"非法参数: {name}: {problem}")


def _missing(name: str) -> TopError:
    return TopError(40, f"Missing required arguments:{name}", "isv.missing-parameter",
                    f"缺少必选参数: {name}")


def check_api(p: Mapping[str, str]) -> dict[str, Any]:
    """Business parameters against the seed's table; returns them with the object parsed."""
    out: dict[str, Any] = {}
    for name, param in API_PARAMS.items():
        raw = p.get(name, "")
        if not raw:
            if param.required:
                raise _missing(name)
            continue
        if param.type == "String":
            _check_value(name, raw, param)
            out[name] = raw
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            obj = None
        if not isinstance(obj, dict):
            raise TopError(41, f"Invalid Arguments:{name}", "isv.invalid-parameter",
                           f"非法参数: {name} must be a JSON object ({param.type})")
        for sub, sparam in PRACTITIONER_PARAMS.items():
            value = obj.get(sub)
            if value in (None, ""):
                if sparam.required:
                    raise _missing(f"{name}.{sub}")
                continue
            _check_value(f"{name}.{sub}", value, sparam)
        out[name] = obj
    return out


class EventLog:
    """Last event per reserve number (bounded): a practitioner can only be changed once one
    was assigned, the one business rule the simulator adds (answered ``success: false``)."""

    def __init__(self, limit: int = MAX_EVENTS) -> None:
        self._last: OrderedDict[str, str] = OrderedDict()
        self._limit = limit

    def record(self, reserve_number: str, event: str) -> dict[str, Any] | None:
        if event == "CHANGE_PRACTITONER" and reserve_number not in self._last:
            return {"err_code": "PRACTITIONER_NOT_ASSIGNED",
                    "err_message": f"预约 {reserve_number} 尚未分配医护人员, 不能变更"}
        self._last.pop(reserve_number, None)
        self._last[reserve_number] = event
        while len(self._last) > self._limit:
            self._last.popitem(last=False)
        return None


EVENTS_LOG = web.AppKey("top_events", EventLog)


def _request_id() -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(13))


def _render(tree: dict[str, Any], fmt: str) -> web.Response:
    if fmt == "json":
        return json_response(tree)
    [(root, body)] = tree.items()
    el = etree.Element(root)
    _fill(el, body)
    data = etree.tostring(el, xml_declaration=True, encoding="UTF-8")
    return web.Response(body=data, content_type="text/xml", charset="utf-8")


def _fill(el: Any, value: Any) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _fill(etree.SubElement(el, k), v)
    else:
        el.text = "true" if value is True else "false" if value is False else str(value)


async def rest(request: web.Request) -> web.StreamResponse:
    """The gateway: record, apply the failure switch, check, answer."""
    state = request.app[SIM_STATE]
    raw = await request.read()
    form = await request.post() if request.method == "POST" else {}
    params = {**{k: v for k, v in request.query.items()},
              **{k: v for k, v in form.items() if isinstance(v, str)}}
    state.requests.append({"method": request.method, "path": request.path,
                           "headers": {str(k): v for k, v in request.headers.items()},
                           "form": params, "body": raw.decode("utf-8", "replace")})
    failure = state.failure
    if failure.times > 0:
        failure.times -= 1
        if failure.delay_ms:
            await asyncio.sleep(failure.delay_ms / 1000)
        if failure.status is not None:
            return json_response({"error_response": {"code": 15, "msg": "Remote service error",
                                                     "sub_msg": "simulated failure"}},
                                 status=failure.status)
    fmt = params.get("format", "xml")
    fmt = fmt if fmt in ("json", "xml") else "json"
    request_id = _request_id()
    try:
        check_gateway(params, known_apps(), dt.datetime.now(GMT8).replace(tzinfo=None))
        body = check_api(params)
    except TopError as err:
        return _render({"error_response": err.tree(request_id)}, fmt)
    refused = request.app[EVENTS_LOG].record(body["reserve_number"], body["event"])
    result: dict[str, Any] = {
        "eagle_eye_trace_id": secrets.token_hex(12),
        "data": {"response_code": "FAIL" if refused else "SUCCESS",
                 "msg": "同步失败" if refused else "同步成功"},
        "success": refused is None,
        **(refused or {}),
    }
    return _render({RESPONSE_KEY: {"result": result, "request_id": request_id}}, fmt)


@register_sim("top", default_port=9109)
def create_app() -> web.Application:
    """AliHealth TOP gateway (seed 000): /router/rest, signed form parameters."""
    app = new_app("top")
    app[EVENTS_LOG] = EventLog()
    app.router.add_route("POST", "/router/rest", rest)
    app.router.add_route("GET", "/router/rest", rest)
    return app
