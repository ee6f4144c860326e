"""Simulator of the two-way referral servlet itself (seed 001 (a), 双向转诊 SxzzAppServlet).

The seed's servlet takes three services as plain XML POSTed to ONE URL, told apart by the root
element, with pinyin-initial field names, and answers XML with ``<result>``:

- ``<referral>``        §3.1.3.1 apply   -> ``<referral><parm>referralCode=…&type=zy</parm>
  <result>true</result></referral>``; bad input: ``<result>false</result><message>…``
- ``<referral-query>``  §3.1.3.2 query   -> ``result`` true (with ``parm``) / false (无数据) /
  error (传入数据有误, with ``message``)
- ``<referral-apply>``  §3.1.3.3 push    -> ``result`` true / false with ``message``

Field tables are the seed's (约束, 长度) as data, in pinyin (held against the seed row by row).
``csrq`` must be ``yyyymmdd`` (the seed's sample ``20130101``), ``mzzycxbz`` mz/zy (any case),
and an outpatient push needs at least one ``<bespeak>`` whose 门诊必填 rows are filled.
The parser is strict (no DTD, no entities): bridge must send well-formed XML.

Endpoint: ``POST /referral/api/SxzzAppServlet``, plus the ``/_sim/*`` test routes of
``bridge.sim.base``; recorded requests carry ``root``, ``fields`` (the document as a tree,
``bespeak`` always a list) and ``body`` (the raw text).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any

from aiohttp import web
from lxml import etree

from bridge.sim import register_sim
from bridge.sim.base import SIM_STATE, new_app
from bridge.sim.fields import Need, Rule, check_fields
from bridge.sim.referral import REFERRALS, Referral, ReferralStore, referral_code

SERVLET = "/referral/api/SxzzAppServlet"
REQ, OPT, MZ = Need.REQUIRED, Need.OPTIONAL, Need.OUTPATIENT
CARD_TYPES = frozenset({"0", "2", "8", "9"})   # 0 社保卡, 2 通用就诊卡(自费卡), 8 身份证, 9 其他卡
VISIT_TYPES = frozenset({"mz", "zy"})          # §3.1.3.1 mz/zy, §3.1.3.3 MZ/ZY
MAX_BESPEAK = 100
_YYYYMMDD = re.compile(r"\d{8}")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          huge_tree=False, remove_comments=True, remove_pis=True)


def yyyymmdd(value: str) -> str | None:
    if _YYYYMMDD.fullmatch(value):
        try:
            dt.datetime.strptime(value, "%Y%m%d")
            return None
        except ValueError:
            pass
    return f"应为yyyymmdd格式日期 (expected yyyymmdd), got {value!r}"


# §3.1.3.1 医院或his系统发起转诊申请 <referral>: 代码, 约束, 长度.
REFERRAL_FIELDS: dict[str, Rule] = {
    "orderid": Rule(REQ, 64),                        # 发起转诊编码
    "fqyydm": Rule(REQ, 22),                         # 发起医院代码
    "fqyymc": Rule(REQ, 128),                        # 发起医院名称
    "fqksdm": Rule(REQ, 32),                         # 发起科室代码
    "fqksmc": Rule(REQ, 128),                        # 发起科室名称
    "fqysgh": Rule(REQ, 32),                         # 发起医生工号
    "fqysxm": Rule(REQ, 128),                        # 发起医生姓名
    "token": Rule(OPT, 64),                          # 发起访问码
    "brlx": Rule(OPT, 22),                           # 病人类型
    "hzxm": Rule(REQ, 64),                           # 患者姓名
    "jzkh": Rule(REQ, 64),                           # 就诊卡号
    "jzklx": Rule(REQ, 22, choices=CARD_TYPES),      # 就诊卡类型
    "sfzh": Rule(REQ, 32),                           # 身份证号码
    "csrq": Rule(REQ, 32, check=yyyymmdd),           # 出生日期
    "lxdh": Rule(REQ, 32),                           # 联系电话
    "jtdz": Rule(OPT, 128),                          # 家庭地址
    "cbzd": Rule(REQ, 128),                          # 初步诊断
    "bszy": Rule(OPT, 4000),                         # 病史摘要
    "zyjws": Rule(OPT, 4000),                        # 主要既往史
    "zlqk": Rule(OPT, 4000),                         # 治疗情况
    "zzmd": Rule(OPT, 4000),                         # 转诊目的
    "jjcd": Rule(OPT, 22),                           # 紧急程度
    "mzzycxbz": Rule(REQ, 22, choices=VISIT_TYPES),  # 门诊住院标志
}

# §3.1.3.2 医院或his系统发起转诊单查询 <referral-query>.
QUERY_FIELDS: dict[str, Rule] = {
    "yydm": Rule(REQ, 22),                           # 医院编码
    "ysgh": Rule(REQ, 32),                           # 医生工号
    "hzxm": Rule(REQ, 64),                           # 患者姓名
    "jzkh": Rule(REQ, 64),                           # 患者卡号
    "jzklx": Rule(REQ, 22, choices=CARD_TYPES),      # 患者卡类型
    "sfzh": Rule(REQ, 32),                           # 患者身份证号
}

# §3.1.3.3 第三方转诊数据主动推送 <referral-apply>: the §3.1.3.1 rows plus the receiving side.
APPLY_FIELDS: dict[str, Rule] = {
    **REFERRAL_FIELDS,
    "zryydm": Rule(REQ, 128),                        # 转入医院代码
    "zrksdm": Rule(OPT, 128),                        # 转入科室代码
}

# §3.1.3.3 the rows of <bespeak> 门诊数据 (门诊必填: required when mzzycxbz is MZ).
BESPEAK_FIELDS: dict[str, Rule] = {
    "ghdh": Rule(MZ, 128),                           # 挂号单号
    "rsid": Rule(MZ, 128),                           # 号源id
    "status": Rule(MZ, 128),                         # 预约状态
    "yyrq": Rule(MZ, 128),                           # 预约日期
    "ksdm": Rule(MZ, 128),                           # 预约科室代码
    "ksmc": Rule(MZ, 128),                           # 预约科室名称
    "ysgh": Rule(MZ, 128),                           # 医生工号
    "ysxm": Rule(MZ, 128),                           # 医生姓名
    "kssj": Rule(OPT, 128),                          # 开始时间
    "jssj": Rule(OPT, 128),                          # 结束时间
}


def to_tree(el: Any) -> Any:
    """Element -> dict (repeated children become lists; ``bespeak`` always is one)."""
    children = list(el)
    if not children:
        return (el.text or "").strip()
    out: dict[str, Any] = {}
    for child in children:
        name, value = child.tag, to_tree(child)
        if name in out:
            prev = out[name]
            out[name] = (prev if isinstance(prev, list) else [prev]) + [value]
        else:
            out[name] = [value] if name == "bespeak" else value
    return out


def answer(root: str, *pairs: tuple[str, str]) -> web.Response:
    el = etree.Element(root)
    for name, text in pairs:
        etree.SubElement(el, name).text = text
    data = etree.tostring(el, xml_declaration=True, encoding="UTF-8")
    return web.Response(body=data, content_type="text/xml", charset="utf-8")


def _store(request: web.Request, source: str, f: dict[str, Any], to: str | None) -> Referral:
    ref = Referral(referral_code(f["orderid"]), f["mzzycxbz"].lower(), f["jzkh"], f["sfzh"], to)
    request.app[REFERRALS].put(source, f["orderid"], ref)
    return ref


def referral(request: web.Request, f: dict[str, Any]) -> web.Response:
    """§3.1.3.1: the answer carries the URL parameters of the referral form (his.html)."""
    problems = check_fields(f, REFERRAL_FIELDS)
    if problems:
        return answer("referral", ("result", "false"), ("message", "; ".join(problems)))
    ref = _store(request, "referral", f, None)
    return answer("referral", ("parm", f"referralCode={ref.code}&type={ref.type}"),
                  ("result", "true"))


def query(request: web.Request, f: dict[str, Any]) -> web.Response:
    """§3.1.3.2: true + parm when referred to this hospital, false when not, error on bad input."""
    problems = check_fields(f, QUERY_FIELDS)
    if problems:
        return answer("referral-query", ("result", "error"), ("message", "; ".join(problems)),
                      ("parm", ""))
    ref = request.app[REFERRALS].find(f["jzkh"], f["sfzh"], f["yydm"])
    if ref is None:
        return answer("referral-query", ("result", "false"), ("message", "无转诊数据"), ("parm", ""))
    return answer("referral-query", ("result", "true"), ("message", ""),
                  ("parm", f"referralCode={ref.code}&type={ref.type}"))


def _bespeak_problems(f: dict[str, Any]) -> list[str]:
    visit = f.get("mzzycxbz")
    outpatient = isinstance(visit, str) and visit.lower() == "mz"
    items = f.get("bespeak", [])
    if outpatient and not items:
        return ["bespeak: 门诊必填 (required for mzzycxbz MZ)"]
    if len(items) > MAX_BESPEAK:
        return [f"bespeak: at most {MAX_BESPEAK}, got {len(items)}"]
    problems: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(f"bespeak[{i}]: expected child elements")
        else:
            problems += check_fields(item, BESPEAK_FIELDS, outpatient=outpatient,
                                     prefix=f"bespeak[{i}].")
    return problems


def apply(request: web.Request, f: dict[str, Any]) -> web.Response:
    """§3.1.3.3: a third party pushes a referral (with its bookings) into the system."""
    problems = check_fields(f, APPLY_FIELDS) + _bespeak_problems(f)
    if problems:
        return answer("referral-apply", ("result", "false"), ("message", "; ".join(problems)))
    _store(request, "apply", f, f["zryydm"])
    return answer("referral-apply", ("result", "true"), ("message", ""))


SERVICES = {"referral": referral, "referral-query": query, "referral-apply": apply}


def _parse(raw: bytes, charset: str | None) -> Any:
    source: str | bytes = raw
    if charset and charset.lower().replace("-", "") != "utf8" and not raw.lstrip().startswith(b"<?xml"):
        source = raw.decode(charset)
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise ValueError("DTDs are not accepted")
    return etree.fromstring(source, _PARSER)


async def servlet(request: web.Request) -> web.StreamResponse:
    """One URL, three services: record, apply the failure switch, dispatch on the root."""
    state = request.app[SIM_STATE]
    raw = await request.read()
    error = ""
    try:
        root_el = _parse(raw, request.charset)
        root, fields = root_el.tag, to_tree(root_el)
    except (ValueError, LookupError, etree.XMLSyntaxError) as exc:
        root_el, root, fields = None, None, None
        error = str(exc)
    state.requests.append({"method": request.method, "path": request.path,
                           "headers": {str(k): v for k, v in request.headers.items()},
                           "root": root, "fields": fields,
                           "body": raw.decode("utf-8", "replace")})
    failure = state.failure
    if failure.times > 0:
        failure.times -= 1
        if failure.delay_ms:
            await asyncio.sleep(failure.delay_ms / 1000)
        if failure.status is not None:
            return web.Response(text="simulated failure", status=failure.status)
    if root_el is None:
        return answer("referral", ("result", "false"), ("message", f"XML格式错误: {error}"))
    service = SERVICES.get(root)
    if service is None:
        return answer(root, ("result", "false"),
                      ("message", f"未知服务 <{root}>; expected one of {', '.join(SERVICES)}"))
    if not isinstance(fields, dict):
        fields = {}
    return service(request, fields)


@register_sim("referral_servlet", default_port=9102)
def create_app() -> web.Application:
    """Two-way referral servlet (seed 001): XML services on /referral/api/SxzzAppServlet."""
    app = new_app("referral_servlet")
    app[REFERRALS] = ReferralStore()
    app.router.add_post(SERVLET, servlet)
    return app
