"""The hostile-input corpus: files under ``corpus/`` plus generators for what is too big to keep.

Each case is what real attackers or broken HIS send to one of the shipped paths, with what the
bridge must answer: the HTTP status, the caller's dialect, the ``bridge_requests_total`` series it
is counted in. ``@@FILE@@`` and ``@@URL@@`` in a corpus file are filled in per test (a temp file
holding a marker, a loopback listener that records connections).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import orjson

CORPUS = Path(__file__).resolve().parent / "corpus"
SAMPLES = Path(__file__).resolve().parents[1] / "routes" / "samples"

SERVLET = "/referral/api/SxzzAppServlet"
HOSPITAL = "/ws/hospital"
EXAM = "/exam/tcm/api"

XML_CT = {"Content-Type": "text/xml; charset=utf-8"}
SOAP11_CT = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
SOAP12_CT = {"Content-Type": "application/soap+xml; charset=utf-8"}
JSON_CT = {"Content-Type": "application/json"}


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


# ---- generators: bodies too large (or too regular) to keep as files -----------------------------

def deep_xml(levels: int, root: str = "referral") -> bytes:
    return f"<{root}>".encode() + b"<a>" * levels + b"x" + b"</a>" * levels + f"</{root}>".encode()


def deep_json(levels: int) -> bytes:
    """The exam envelope with ``data`` nested ``levels`` deep (orjson itself stops at 1024)."""
    return (b'{"systemId": "x", "systemKey": "y", "method": "XKH073", "data": '
            + b"[" * levels + b"]" * levels + b"}")


def deep_json_string(levels: int) -> bytes:
    """The same nesting inside the string ``data`` that the route's ``unwrap`` parses, with
    the right credentials so that it gets that far."""
    envelope = orjson.loads(sample("exam-query.json"))
    envelope["data"] = "[" * levels + "]" * levels
    return orjson.dumps(envelope)


def quadratic_blowup(size: int = 50_000, refs: int = 2_000) -> bytes:
    """The entity-expansion attack that stays under entity-count limits: one huge entity
    referenced many times (50 KB x 2000 = 100 MB once expanded)."""
    return (b'<?xml version="1.0"?>\n<!DOCTYPE referral [<!ENTITY a "' + b"x" * size + b'">]>\n'
            b"<referral><hzxm>" + b"&a;" * refs + b"</hzxm></referral>")


def huge_attribute(size: int = 1_000_000) -> bytes:
    return sample("referral.xml").replace(b"<referral>", b'<referral note="' + b"x" * size + b'">', 1)


def many_attributes(count: int) -> bytes:
    """All of them reach the target as ``@aN`` keys: 60k keep its JSON under 1 MB."""
    attrs = b" ".join(b'a%d="1"' % i for i in range(count))
    return sample("referral.xml").replace(b"<referral>", b"<referral " + attrs + b">", 1)


def many_siblings(count: int = 100_000) -> bytes:
    return sample("referral.xml").replace(b"</referral>", b"<x>1</x>" * count + b"</referral>", 1)


def confirm_registration(version: str = "1.1") -> bytes:
    """A valid confirmRegistration for a patient never seen before (the HIS holds one lock per
    patient and slot, so a fixed sample would be refused the second time)."""
    data = sample("registration-confirm.xml")
    id_code = "3301001990" + "".join(random.choices("0123456789", k=8))
    data = data.replace(b"330100199001011234", id_code.encode())
    # a schedule the HIS stand-in has (its /_sim/data: doctors D001-D004, mornings -1 and
    # afternoons -2, today to today + 7, 10 places each), spread so that no schedule fills up
    day = (dt.date.today() + dt.timedelta(days=random.randint(1, 7))).strftime("%Y%m%d")
    work = f"D00{random.randint(1, 4)}-{day}-{random.randint(1, 2)}"
    data = data.replace(b"W1001", work.encode())
    if version == "1.2":
        data = data.replace(b"http://schemas.xmlsoap.org/soap/envelope/",
                            b"http://www.w3.org/2003/05/soap-envelope")
    return data


# ---- the cases --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    name: str
    path: str
    body: Callable[[], bytes]
    headers: dict[str, str]
    status: int                      # the HTTP status; SOAP 1.1 faults are always 500
    dialect: str                     # xml | soap11 | soap12 | json
    outcome: str = "bad_request"
    route: str = "unmatched"         # the bridge_requests_total route label
    code: str | None = None          # the error code, where the reply carries it
    reaches_target: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    target_calls: int = 1            # requests the target receives when reached (lookups included)


def _f(name: str) -> Callable[[], bytes]:
    return lambda: corpus(name)


REFUSED_XML = [
    Case("xxe file /etc/passwd", SERVLET, _f("xxe-file-passwd.xml"), XML_CT, 400, "xml", code="dtd_refused"),
    Case("xxe file marker", SERVLET, _f("xxe-file-marker.xml"), XML_CT, 400, "xml", code="dtd_refused"),
    Case("xxe network", SERVLET, _f("xxe-network.xml"), XML_CT, 400, "xml", code="dtd_refused"),
    Case("xxe parameter entity", SERVLET, _f("xxe-parameter-entity.xml"), XML_CT, 400, "xml",
         code="dtd_refused"),
    Case("xxe external dtd", SERVLET, _f("xxe-external-dtd.xml"), XML_CT, 400, "xml", code="dtd_refused"),
    Case("xxe public dtd", SERVLET, _f("xxe-public-dtd.xml"), XML_CT, 400, "xml", code="dtd_refused"),
    Case("xxe hidden in utf-16", SERVLET, _f("xxe-utf16-hidden.xml"), {"Content-Type": "text/xml"},
         415, "xml"),
    Case("billion laughs", SERVLET, _f("billion-laughs.xml"), XML_CT, 400, "xml", code="dtd_refused"),
    Case("quadratic blow-up", SERVLET, quadratic_blowup, XML_CT, 400, "xml", code="dtd_refused"),
    Case("xml deeper than libxml2's 256", SERVLET, lambda: deep_xml(300), XML_CT, 400, "xml",
         code="too_deep"),
    Case("xml 10000 deep", SERVLET, lambda: deep_xml(10_000), XML_CT, 400, "xml", code="too_deep"),
    # a <referral> the route read: the servlet's own failure shape, result false in an HTTP 200
    Case("xml deeper than max_depth", SERVLET, lambda: deep_xml(150), XML_CT, 200, "xml",
         route="referral.apply", code="too_deep"),
    Case("invalid utf-8", SERVLET, _f("invalid-utf8.xml"), XML_CT, 400, "xml", code="malformed_xml"),
    Case("invalid gbk", SERVLET, _f("invalid-gbk.xml"), {"Content-Type": "text/xml"}, 400, "xml",
         code="bad_charset"),
    Case("utf-16 with bom", SERVLET, _f("utf16-bom.xml"), {"Content-Type": "text/xml"}, 415, "xml",
         code="unsupported_media_type"),
    Case("utf-16 without bom", SERVLET, _f("utf16-no-bom.xml"), {"Content-Type": "text/xml"}, 415,
         "xml", code="unsupported_media_type"),
    Case("utf-16 declared in content-type", SERVLET, lambda: sample("referral.xml"),
         {"Content-Type": "text/xml; charset=utf-16"}, 415, "xml", code="unsupported_media_type"),
    Case("unknown charset", SERVLET, lambda: sample("referral.xml"),
         {"Content-Type": "text/xml; charset=x-klingon"}, 415, "xml", code="unsupported_media_type"),
    # referral.apply has `recover: true` (the seed's own samples are broken): the cut document
    # is repaired, and what is missing is then a validation error (a strict route: 400, see
    # test_limits.py)
    Case("truncated mid-tag", SERVLET, _f("truncated-mid-tag.xml"), XML_CT, 200, "xml",
         route="referral.apply", code="validation_failed"),
    Case("json to an xml path", SERVLET, lambda: b'{"orderid": "1"}', JSON_CT, 415, "xml",
         code="unsupported_media_type"),
    Case("multipart to an xml path", SERVLET, lambda: sample("referral.xml"),
         {"Content-Type": "multipart/form-data; boundary=x"}, 415, "xml", code="unsupported_media_type"),
    Case("empty body", SERVLET, lambda: b"", XML_CT, 400, "xml", code="empty_body"),
    Case("whitespace body", SERVLET, lambda: b" \r\n\t ", XML_CT, 400, "xml", code="empty_body"),
    Case("not xml at all", SERVLET, lambda: b"GET / HTTP/1.0", XML_CT, 400, "xml", code="malformed_xml"),
    Case("unknown root", SERVLET, lambda: b"<hack><x/></hack>", XML_CT, 404, "xml", outcome="no_route",
         code="no_route"),
]

REFUSED_SOAP = [
    Case("soap 1.1 without Body", HOSPITAL, _f("soap11-no-body.xml"), SOAP11_CT, 500, "soap11", code="not_soap"),
    Case("soap 1.2 without Body", HOSPITAL, _f("soap12-no-body.xml"), SOAP12_CT, 400, "soap12", code="not_soap"),
    Case("soap 1.1 empty Body", HOSPITAL, _f("soap11-empty-body.xml"), SOAP11_CT, 500, "soap11", code="not_soap"),
    Case("soap unknown envelope namespace", HOSPITAL, _f("soap-unknown-envelope-ns.xml"), SOAP11_CT, 500,
         "soap11", code="not_soap"),
    # cut inside the carried document; the route's `recover: true` repairs what it can and the
    # fields that were cut off are then missing (422, a soap:Client fault)
    # (a call of a known operation: seed 001's own failure shape, ResultCode 1 in a normal
    # <Response>, HTTP 200 — errors.fault: false on the registration routes)
    Case("soap truncated", HOSPITAL, _f("soap11-truncated.xml"), SOAP11_CT, 200, "soap11",
         route="registration.confirm", code="validation_failed"),
    Case("soap xxe in envelope", HOSPITAL, _f("soap11-xxe-in-envelope.xml"), SOAP11_CT, 500, "soap11",
         code="dtd_refused"),
    Case("soap xxe in string parameter", HOSPITAL, _f("soap11-xxe-in-param.xml"), SOAP11_CT, 200,
         "soap11", route="registration.confirm", code="dtd_refused"),
    Case("soap 1.2 billion laughs", HOSPITAL, _f("soap12-billion-laughs.xml"), SOAP12_CT, 400, "soap12",
         code="dtd_refused"),
    Case("json to a soap path", HOSPITAL, lambda: b'{"a": 1}', JSON_CT, 500, "soap11",
         code="unsupported_media_type"),
    Case("soap empty body", HOSPITAL, lambda: b"", SOAP11_CT, 500, "soap11", code="empty_body"),
    Case("soap 1.2 empty body", HOSPITAL, lambda: b"", SOAP12_CT, 400, "soap12", code="empty_body"),
    Case("soap deep envelope", HOSPITAL, lambda: deep_xml(300, "x"), SOAP11_CT, 500, "soap11",
         code="too_deep"),
    Case("soap unknown operation", HOSPITAL,
         lambda: confirm_registration().replace(b"confirmRegistration", b"dropTables"), SOAP11_CT, 500,
         "soap11", outcome="no_route", code="no_route"),
]

REFUSED_JSON = [
    Case("json deeper than max_depth", EXAM, lambda: deep_json(150), JSON_CT, 400, "json", code="too_deep"),
    Case("json 1000 deep (under orjson's own limit)", EXAM, lambda: deep_json(1000), JSON_CT, 400, "json",
         code="too_deep"),
    Case("json beyond orjson's limit", EXAM, lambda: deep_json(5000), JSON_CT, 400, "json",
         code="malformed_json"),
    Case("json 900 deep inside the data string", EXAM, lambda: deep_json_string(900), JSON_CT, 422,
         "json", route="exam.tcm.query", code="too_deep"),
    Case("truncated mid-string", EXAM, _f("truncated-mid-string.json"), JSON_CT, 400, "json",
         code="malformed_json"),
    Case("raw NUL in a string", EXAM, _f("nul-byte.json"), JSON_CT, 400, "json", code="malformed_json"),
    Case("lone surrogate", EXAM, _f("lone-surrogate.json"), JSON_CT, 400, "json", code="malformed_json"),
    Case("infinite number", EXAM, _f("infinite-number.json"), JSON_CT, 400, "json", code="malformed_json"),
    Case("invalid utf-8", EXAM, _f("invalid-utf8.json"), JSON_CT, 400, "json", code="malformed_json"),
    Case("invalid gbk", EXAM, lambda: b'{"method": "\x81\x20\xff"}', {"Content-Type": "application/json; charset=gbk"},
         400, "json", code="bad_charset"),
    Case("trailing garbage", EXAM, _f("trailing-garbage.json"), JSON_CT, 400, "json", code="malformed_json"),
    Case("xml to a json path", EXAM, lambda: sample("referral.xml"), XML_CT, 415, "json",
         code="unsupported_media_type"),
    Case("xml without content-type", EXAM, _f("not-json.json"), {}, 400, "json", code="malformed_json"),
    Case("utf-16 charset", EXAM, lambda: sample("exam-query.json"),
         {"Content-Type": "application/json; charset=utf-16"}, 415, "json", code="unsupported_media_type"),
    Case("empty body", EXAM, lambda: b"", JSON_CT, 400, "json", code="empty_body"),
    Case("a bare string", EXAM, lambda: b'"XKH073"', JSON_CT, 404, "json", outcome="no_route", code="no_route"),
    Case("an array", EXAM, lambda: b"[1, 2]", JSON_CT, 404, "json", outcome="no_route", code="no_route"),
    Case("wrong credentials", EXAM,
         lambda: sample("exam-query.json").replace(b"dev-only-exam-key-change-me", b"guess"), JSON_CT, 401,
         "json", outcome="unauthorized", route="exam.tcm.query"),
]

# Within max_body and therefore parsed: each must be answered promptly (the attribute case was
# quadratic in lxml's attribute lookup and held the event loop for minutes) with a clear status.
LARGE_BUT_ALLOWED = [
    Case("1 MB attribute value", SERVLET, huge_attribute, XML_CT, 200, "xml", outcome="ok",
         route="referral.apply", reaches_target=True),
    Case("60k attributes on one element", SERVLET, lambda: many_attributes(60_000), XML_CT, 200, "xml",
         outcome="ok",
         route="referral.apply", reaches_target=True),
    Case("100k siblings", SERVLET, many_siblings, XML_CT, 200, "xml", outcome="ok",
         route="referral.apply", reaches_target=True),
]

ACCEPTED = [
    Case("no content-type, valid xml", SERVLET, lambda: sample("referral.xml"), {}, 200, "xml",
         outcome="ok", route="referral.apply", reaches_target=True),
    Case("form content-type, raw xml (legacy Java clients)", SERVLET, lambda: sample("referral.xml"),
         {"Content-Type": "application/x-www-form-urlencoded"}, 200, "xml", outcome="ok",
         route="referral.apply", reaches_target=True),
    Case("text/plain, valid xml", SERVLET, lambda: sample("referral.xml"), {"Content-Type": "text/plain"},
         200, "xml", outcome="ok", route="referral.apply", reaches_target=True),
    Case("utf-8 bom with a conflicting GBK declaration: the BOM wins", SERVLET,
         _f("bom-conflicting-declaration.xml"), {"Content-Type": "text/xml"}, 200, "xml", outcome="ok",
         route="referral.apply", reaches_target=True),
    Case("form content-type, raw soap", HOSPITAL, confirm_registration,
         {"Content-Type": "application/x-www-form-urlencoded"}, 200, "soap11", outcome="ok",
         route="registration.confirm", reaches_target=True, target_calls=3),   # /get_time, /new, /query
    Case("no content-type, valid json", EXAM, lambda: sample("exam-query.json"), {}, 200, "json",
         outcome="ok", route="exam.tcm.query", reaches_target=True),
]

ALL = REFUSED_XML + REFUSED_SOAP + REFUSED_JSON + LARGE_BUT_ALLOWED + ACCEPTED
