"""What every hostile case asserts: status, the caller's dialect, the metric, nothing leaked,
and a process that still serves the same path afterwards."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from lxml import etree
from prometheus_client.parser import text_string_to_metric_families

from tests.hostile.corpus import EXAM, HOSPITAL, SERVLET, confirm_registration, sample

SOAP_NS = {"1.1": "http://schemas.xmlsoap.org/soap/envelope/",
           "1.2": "http://www.w3.org/2003/05/soap-envelope"}
_SAFE = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
#: Text that would mean a leak: a traceback, source frames, /etc/passwd content.
LEAKS = ("Traceback", 'File "', '.py", line', "root:x:0:0", "lollollol", "/bin/bash", "/usr/sbin/nologin")


@dataclass
class Reply:
    status: int
    headers: Any
    body: bytes

    @property
    def media_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


async def send(http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]) -> Reply:
    hdrs = dict(headers)
    if "Content-Type" not in hdrs:
        # aiohttp would add application/octet-stream; a caller sending none must send none
        hdrs["Content-Type"] = ""
    async with http.post(url, data=body, headers=hdrs, skip_auto_headers=["Content-Type"]) as r:
        return Reply(r.status, r.headers.copy(), await r.read())


def assert_no_leak(body: bytes, *markers: str) -> None:
    text = body.decode("utf-8", "replace")
    for leak in (*LEAKS, *markers):
        assert leak not in text, (leak, body[:2000])


def check_dialect(reply: Reply, dialect: str, status: int) -> Any:
    """The reply is in the caller's dialect; returns the parsed document."""
    assert reply.status == status, (reply.status, reply.body[:1000])
    if dialect == "json":
        assert reply.media_type == "application/json", reply.headers
        return orjson.loads(reply.body)
    root = etree.fromstring(reply.body, _SAFE)          # parseable XML, whatever the case
    assert "xml" in reply.media_type, reply.headers
    ctype = reply.headers["Content-Type"]
    assert ctype.lower().count("charset=") == 1, ctype  # one charset, not the caller's echoed twice
    if dialect == "xml":
        assert etree.QName(root).localname != "Envelope"
        return root
    version = "1.1" if dialect == "soap11" else "1.2"
    assert root.tag == f"{{{SOAP_NS[version]}}}Envelope", root.tag
    assert reply.media_type == ("text/xml" if version == "1.1" else "application/soap+xml")
    return root


def soap_fault(root: Any, version: str) -> tuple[str, str]:
    """(fault code, fault text) of a SOAP Fault envelope."""
    ns = SOAP_NS[version]
    fault = root.find(f"{{{ns}}}Body/{{{ns}}}Fault")
    assert fault is not None, etree.tostring(root)[:500]
    if version == "1.1":
        return fault.findtext("faultcode") or "", fault.findtext("faultstring") or ""
    return (fault.findtext(f"{{{ns}}}Code/{{{ns}}}Value") or "",
            fault.findtext(f"{{{ns}}}Reason/{{{ns}}}Text") or "")


async def requests_total(http: aiohttp.ClientSession, url: str) -> dict[tuple[str, str], float]:
    """bridge_requests_total as {(route, outcome): value}."""
    async with http.get(url + "/metrics") as r:
        assert r.status == 200
        text = await r.text()
    out: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "bridge_requests_total":
                out[(s.labels["route"], s.labels["outcome"])] = s.value
    return out


def normal_request(path: str) -> tuple[bytes, dict[str, str]]:
    if path == SERVLET:
        return sample("referral.xml"), {"Content-Type": "text/xml; charset=utf-8"}
    if path == HOSPITAL:
        return confirm_registration(), {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
    if path == EXAM:
        return sample("exam-query.json"), {"Content-Type": "application/json"}
    raise AssertionError(path)


async def assert_healthy(http: aiohttp.ClientSession, url: str, path: str) -> None:
    """/healthz answers and a normal request through the same path succeeds."""
    async with http.get(url + "/healthz") as r:
        assert r.status == 200
    body, headers = normal_request(path)
    reply = await send(http, url + path, body, headers)
    assert reply.status == 200, reply.body[:1000]
    if path == EXAM:
        assert orjson.loads(reply.body)["statusCode"] == "00000000"
    elif path == SERVLET:
        assert etree.fromstring(reply.body).findtext("result") == "true"
    else:
        assert b"confirmRegistrationResponse" in reply.body


async def sim_count(http: aiohttp.ClientSession, sim: Any) -> int:
    async with http.get(sim.url + "/_sim/requests") as r:
        assert r.status == 200
        return len(await r.json())
