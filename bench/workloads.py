"""The benchmark's workloads: one request each, the upstream's canned replies, and how to compare.

Every peer gets the same request bytes and the same upstream replies, so a difference in what
comes back is a difference in the work done. Replies are compared *semantically* (parsed XML or
JSON trees, namespaces and formatting ignored): a peer may pretty-print or pick other prefixes,
but must carry the same data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
from lxml import etree

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SAMPLE_REFERRAL = ROOT / "tests" / "routes" / "samples" / "referral.xml"

Kind = Literal["xml", "soap", "json"]

# What each upstream path answers (the platform's success reply for that call).
W1_REPLY = {"head": {"code": 1, "msg": "ok"},
            "data": {"referral_code": "E11209AD-5B56-5E73-8988-BE20DFA248DA", "type": "zy"}}
W2_REPLY = {"result_code": 0, "error_msg": "", "count": 50}
W3_REPLY = {"resultCode": "Success", "resultDesc": "ok",
            "data": {"scheduleId": "S-0001", "fillerOrderNO": "F-0001"}}

# Development key for W3's AES step: 32 characters, clearly not a secret (same in bench/routes.yaml).
W3_KEY = "dev-only-bench-key-not-secret-32"


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    path: str                      # inbound path on every peer
    content_type: str
    body: bytes
    reply_kind: Kind               # what the caller gets back
    upstream_path: str             # where a transforming peer sends its request
    upstream_reply: dict[str, Any]
    bridge_config: str             # routes file the bridge runs for it (relative to the repo)
    peers_unsupported: frozenset[str] = field(default_factory=frozenset)

    @property
    def size(self) -> int:
        return len(self.body)


def w1_body() -> bytes:
    """Seed 001's referral request as shipped in the route tests (~0.7 KB, `</ mzzycxbz >` fixed)."""
    return SAMPLE_REFERRAL.read_bytes()


def w2_body(records: int = 50) -> bytes:
    """SOAP 1.1 synchronizedWorkInfo carrying a <Request> with ``records`` Records as a CDATA string."""
    recs = "".join(
        f"<Record><WorkId>W{i:04d}</WorkId><DoctorId>DR{i % 7:02d}</DoctorId>"
        f"<DoctorName>医生{i}</DoctorName><WorkDate>2030-01-07</WorkDate>"
        f"<WorkTimeCode>{1 + i % 3}</WorkTimeCode><RegistrationNumber>{20 + i}</RegistrationNumber>"
        f"</Record>" for i in range(records))
    inner = (f"<Request><TransactionId>TX-SYNC-0001</TransactionId><HospitalNo>H001</HospitalNo>"
             f"<Count>{records}</Count><IsMultiTimes>0</IsMultiTimes><WorkInfo>{recs}</WorkInfo></Request>")
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:ws="http://platform.example/ws"><soap:Body><ws:synchronizedWorkInfo>'
            f"<xml><![CDATA[{inner}]]></xml></ws:synchronizedWorkInfo></soap:Body></soap:Envelope>"
            ).encode()


def w3_body(target: int) -> bytes:
    """Seed 002's JSON envelope (XKH074 save) grown with ``orders`` until it reaches ``target`` bytes."""
    data: dict[str, Any] = {
        "patientName": "测试患者", "idCardNO": "430426201512190183", "contactPhoneNO": "13400001234",
        "organizationID": "00", "requestDeptID": "99", "orders": []}
    env = {"systemId": "dev-only-exam-system", "systemKey": "dev-only-exam-key-change-me",
           "businessType": "999", "method": "XKH074", "data": data}
    i = 0
    while True:
        data["orders"].append({"placerOrderNO": f"P{i:06d}", "medRecNO": f"4304262015{i:08d}",
                               "procedureName": "骨龄测定(左手腕正位片)DR", "serviceSectID": "DX"})
        i += 1
        raw = orjson.dumps(env)
        if len(raw) >= target * 0.9 or i > 1000:
            return raw


def all_workloads() -> dict[str, Workload]:
    xml = "application/xml; charset=utf-8"
    w3 = {name: Workload(
        name=name, title=f"W3 JSON envelope → AES fields → JSON ({label})", path="/exam/api",
        content_type="application/json", body=w3_body(size), reply_kind="json",
        upstream_path="/w3/exam", upstream_reply=W3_REPLY, bridge_config="bench/routes.yaml",
        peers_unsupported=frozenset({"node-red"}))
        for name, size, label in (("w3-500", 500, "500 B"), ("w3-1k", 1024, "1 KiB"),
                                  ("w3-10k", 10240, "10 KiB"))}
    return {
        "w1": Workload(
            name="w1", title="W1 referral XML → snake_case JSON → XML reply",
            path="/referral/api/SxzzAppServlet", content_type=xml, body=w1_body(), reply_kind="xml",
            upstream_path="/referral/apply", upstream_reply=W1_REPLY, bridge_config="routes.yaml"),
        "w2": Workload(
            name="w2", title="W2 SOAP synchronizedWorkInfo, 50 Records in a string → JSON",
            path="/ws/schedule", content_type='text/xml; charset=utf-8', body=w2_body(),
            reply_kind="soap", upstream_path="/w2/schedule", upstream_reply=W2_REPLY,
            bridge_config="bench/routes.yaml", peers_unsupported=frozenset({"node-red"})),
        **w3,
    }


# ---- semantic comparison --------------------------------------------------------------------

def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def xml_tree(el: etree._Element) -> Any:
    """An element as the bridge's body tree (DESIGN §2): children by local name, repeats as lists."""
    kids = [k for k in el if isinstance(k.tag, str)]
    if not kids:
        return (el.text or "").strip()
    out: dict[str, Any] = {}
    for k in kids:
        name, val = _local(k.tag), xml_tree(k)
        if name in out:
            prev = out[name]
            out[name] = prev + [val] if isinstance(prev, list) else [prev, val]
        else:
            out[name] = val
    return out


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def parse_xml(raw: bytes) -> dict[str, Any]:
    root = etree.fromstring(raw, _PARSER)
    return {_local(root.tag): xml_tree(root)}


def parse_soap(raw: bytes) -> dict[str, Any]:
    """SOAP reply → {operationResponse: {param: <the XML string, parsed>}}."""
    root = etree.fromstring(raw, _PARSER)
    body = next(el for el in root if _local(el.tag) == "Body")
    op = next(el for el in body if isinstance(el.tag, str))
    out: dict[str, Any] = {}
    for param in op:
        text = (param.text or "").strip()
        out[_local(param.tag)] = parse_xml(text.encode()) if text.startswith("<") else text
    return {_local(op.tag): out}


def normalise(kind: Kind, raw: bytes) -> Any:
    """The reply as a comparable tree; raises on a reply that is not of the expected kind."""
    if kind == "json":
        return orjson.loads(raw)
    if kind == "soap":
        return parse_soap(raw)
    return parse_xml(raw)


def same_reply(kind: Kind, a: bytes, b: bytes) -> tuple[bool, str]:
    """Whether two replies carry the same data; the message shows both trees when they do not."""
    try:
        ta, tb = normalise(kind, a), normalise(kind, b)
    except Exception as exc:  # noqa: BLE001 - a reply we cannot parse is a difference, say why
        return False, f"unparseable reply: {exc}: {a[:200]!r} / {b[:200]!r}"
    return (ta == tb), f"{ta!r}\n  !=\n{tb!r}"
