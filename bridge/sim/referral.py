"""Simulator of the referral platform (seed 001, 双向转诊 two-way referral).

The seed's servlet takes pinyin-named XML; the platform bridge delivers to speaks palm-hospital
style JSON (seed 003 conventions): snake_case English names from
``transforms/glossary/referral.yaml``, replies ``{"head": {"code", "msg"}, "data": {...}}`` with
head.code > 0 success. It checks what it receives against the seed's own field tables, so a route
that drops, mis-renames, over-fills or mis-shapes a field fails here as it would in production.

Endpoints (all ``POST``, ``application/json``, business errors are HTTP 200 with head.code -1):

- ``/referral/apply``  seed 3.1.3.1 ``referral``        -> data ``{referral_code, type}``
- ``/referral/query``  seed 3.1.3.2 ``referral-query``  -> data ``{referred, referral_code, type}``
- ``/referral/push``   seed 3.1.3.3 ``referral-apply``  -> data ``{accepted: true}``

plus the ``/_sim/*`` test routes of ``bridge.sim.base``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bridge.sim import register_sim
from bridge.sim.base import Reply, add_endpoint, new_app, ok, rejected
from bridge.sim.fields import Need, Rule, check_fields, iso_date

REQ, OPT, MZ = Need.REQUIRED, Need.OPTIONAL, Need.OUTPATIENT
CARD_TYPES = frozenset({"0", "2", "8", "9"})   # 0 社保卡, 2 自费卡, 8 身份证, 9 其他卡
VISIT_TYPES = frozenset({"mz", "zy"})          # 门诊 outpatient / 住院 inpatient (seed 3.1.3.3: MZ/ZY)

# Seed 001 §3.1.3.1 医院或his系统发起转诊申请, input table (约束, 长度); pinyin name in the comment.
APPLY_FIELDS: dict[str, Rule] = {
    "order_id": Rule(REQ, 64),                          # orderid 发起转诊编码
    "from_hospital_code": Rule(REQ, 22),                # fqyydm 发起医院代码
    "from_hospital_name": Rule(REQ, 128),               # fqyymc 发起医院名称
    "from_dept_code": Rule(REQ, 32),                    # fqksdm 发起科室代码
    "from_dept_name": Rule(REQ, 128),                   # fqksmc 发起科室名称
    "from_doctor_code": Rule(REQ, 32),                  # fqysgh 发起医生工号
    "from_doctor_name": Rule(REQ, 128),                 # fqysxm 发起医生姓名
    "access_token": Rule(OPT, 64),                      # token 发起访问码
    "patient_type": Rule(OPT, 22),                      # brlx 病人类型
    "patient_name": Rule(REQ, 64),                      # hzxm 患者姓名
    "card_no": Rule(REQ, 64),                           # jzkh 就诊卡号
    "card_type": Rule(REQ, 22, choices=CARD_TYPES),     # jzklx 就诊卡类型
    "id_no": Rule(REQ, 32),                             # sfzh 身份证号码
    "birth_date": Rule(REQ, 32, check=iso_date),        # csrq 出生日期 (bridge: yyyymmdd -> ISO)
    "phone_no": Rule(REQ, 32),                          # lxdh 联系电话
    "address": Rule(OPT, 128),                          # jtdz 家庭地址
    "diagnosis": Rule(REQ, 128),                        # cbzd 初步诊断
    "history_summary": Rule(OPT, 4000),                 # bszy 病史摘要
    "past_history": Rule(OPT, 4000),                    # zyjws 主要既往史
    "treatment": Rule(OPT, 4000),                       # zlqk 治疗情况
    "purpose": Rule(OPT, 4000),                         # zzmd 转诊目的
    "urgency": Rule(OPT, 22),                           # jjcd 紧急程度
    "visit_type": Rule(REQ, 22, choices=VISIT_TYPES),   # mzzycxbz 门诊住院标志
}

# Seed 001 §3.1.3.2 医院或his系统发起转诊单查询, input table.
QUERY_FIELDS: dict[str, Rule] = {
    "hospital_code": Rule(REQ, 22),                     # yydm 医院编码
    "doctor_code": Rule(REQ, 32),                       # ysgh 医生工号
    "patient_name": Rule(REQ, 64),                      # hzxm 患者姓名
    "card_no": Rule(REQ, 64),                           # jzkh 患者卡号
    "card_type": Rule(REQ, 22, choices=CARD_TYPES),     # jzklx 患者卡类型
    "id_no": Rule(REQ, 32),                             # sfzh 患者身份证号
}

# Seed 001 §3.1.3.3 第三方转诊数据主动推送: the apply table plus the receiving side.
PUSH_FIELDS: dict[str, Rule] = {
    **APPLY_FIELDS,
    "to_hospital_code": Rule(REQ, 128),                 # zryydm 转入医院代码
    "to_dept_code": Rule(OPT, 128),                     # zrksdm 转入科室代码
}

# Seed 001 §3.1.3.3, the rows under bespeak 门诊数据 (门诊必填: required when visit_type is mz).
BOOKING_FIELDS: dict[str, Rule] = {
    "registration_no": Rule(MZ, 128),                   # ghdh 挂号单号
    "source_id": Rule(MZ, 128),                         # rsid 号源id
    "status": Rule(MZ, 128),                            # status 预约状态
    "booking_date": Rule(MZ, 128),                      # yyrq 预约日期
    "dept_code": Rule(MZ, 128),                         # ksdm 预约科室代码
    "dept_name": Rule(MZ, 128),                         # ksmc 预约科室名称
    "doctor_code": Rule(MZ, 128),                       # ysgh 医生工号
    "doctor_name": Rule(MZ, 128),                       # ysxm 医生姓名
    "start_time": Rule(OPT, 128),                       # kssj 开始时间
    "end_time": Rule(OPT, 128),                         # jssj 结束时间
}

MAX_BOOKINGS = 100
MAX_REFERRALS = 10_000      # stored referrals; the oldest is forgotten first
_CODE_NS = uuid.uuid5(uuid.NAMESPACE_URL, "bridge:sim:referral")


def referral_code(order_id: str) -> str:
    """The platform's code for an order: upper-case UUID, deterministic so tests can predict it."""
    return str(uuid.uuid5(_CODE_NS, order_id)).upper()


@dataclass(frozen=True)
class Referral:
    """What a query needs of a stored referral."""

    code: str
    type: str
    card_no: str
    id_no: str
    to_hospital_code: str | None    # set for pushes only: a query must come from that hospital


class ReferralStore:
    """Referrals by (source, order_id), bounded; re-sending an order replaces it (idempotent)."""

    def __init__(self, limit: int = MAX_REFERRALS) -> None:
        self._items: dict[tuple[str, str], Referral] = {}
        self._limit = limit

    def put(self, source: str, order_id: str, referral: Referral) -> None:
        self._items.pop((source, order_id), None)
        self._items[(source, order_id)] = referral
        while len(self._items) > self._limit:
            del self._items[next(iter(self._items))]

    def find(self, card_no: str, id_no: str, hospital_code: str) -> Referral | None:
        """The newest referral of this patient that this hospital may see."""
        for ref in reversed(self._items.values()):
            if (ref.card_no == card_no and ref.id_no == id_no
                    and ref.to_hospital_code in (None, hospital_code)):
                return ref
        return None


REFERRALS = web.AppKey("referrals", ReferralStore)


def _store(request: web.Request, source: str, body: dict[str, Any],
           to_hospital_code: str | None) -> Referral:
    ref = Referral(referral_code(body["order_id"]), body["visit_type"].lower(), body["card_no"],
                   body["id_no"], to_hospital_code)
    request.app[REFERRALS].put(source, body["order_id"], ref)
    return ref


async def apply(request: web.Request, body: dict[str, Any]) -> Reply:
    """Seed 3.1.3.1: a hospital asks for a referral; the platform answers its code."""
    problems = check_fields(body, APPLY_FIELDS)
    if problems:
        return rejected(problems)
    ref = _store(request, "apply", body, None)
    return ok({"referral_code": ref.code, "type": ref.type})


async def query(request: web.Request, body: dict[str, Any]) -> Reply:
    """Seed 3.1.3.2: is this patient referred to the asking hospital?"""
    problems = check_fields(body, QUERY_FIELDS)
    if problems:
        return rejected(problems)
    ref = request.app[REFERRALS].find(body["card_no"], body["id_no"], body["hospital_code"])
    if ref is None:
        return ok({"referred": False}, msg="no referral")
    return ok({"referred": True, "referral_code": ref.code, "type": ref.type})


def _booking_problems(body: dict[str, Any]) -> list[str]:
    """``bookings`` must be a list (one XML <bespeak> is still a list), required for mz."""
    visit = body.get("visit_type")
    outpatient = isinstance(visit, str) and visit.lower() == "mz"
    bookings = body.get("bookings")
    if bookings is None:
        return ["bookings: required for outpatient referrals (visit_type mz)"] if outpatient else []
    if not isinstance(bookings, list):
        return [f"bookings: expected a list, got {type(bookings).__name__}"]
    if outpatient and not bookings:
        return ["bookings: at least one booking required for visit_type mz"]
    if len(bookings) > MAX_BOOKINGS:
        return [f"bookings: at most {MAX_BOOKINGS} items, got {len(bookings)}"]
    problems: list[str] = []
    for i, item in enumerate(bookings):
        if not isinstance(item, dict):
            problems.append(f"bookings[{i}]: expected an object, got {type(item).__name__}")
        else:
            problems += check_fields(item, BOOKING_FIELDS, outpatient=outpatient,
                                     prefix=f"bookings[{i}].")
    return problems


async def push(request: web.Request, body: dict[str, Any]) -> Reply:
    """Seed 3.1.3.3: a third party pushes a referral, with its outpatient bookings."""
    problems = check_fields(body, PUSH_FIELDS) + _booking_problems(body)
    if problems:
        return rejected(problems)
    _store(request, "push", body, body["to_hospital_code"])
    return ok({"accepted": True})


@register_sim("referral", default_port=9101)
def create_app() -> web.Application:
    """Referral platform (seed 001): /referral/apply, /referral/query, /referral/push."""
    app = new_app("referral")
    app[REFERRALS] = ReferralStore()
    add_endpoint(app, "/referral/apply", apply)
    add_endpoint(app, "/referral/query", query)
    add_endpoint(app, "/referral/push", push)
    return app
