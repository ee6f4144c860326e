"""Issue 4 item 6, the limits: max_body (declared and chunked), max_depth (XML, JSON, a SOAP
string parameter), read_timeout (headers, then a stall), header size, strict parsing of NUL and
control characters, and methods other than POST. ``configs/limits.yaml`` puts the three
attacked paths behind tight limits; each case asserts status, dialect, metric, an untouched
target and a healthy process."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import aiohttp
import orjson
import pytest
from structlog.testing import capture_logs

from bridge.testing import RunningBridge
from tests.hostile.checks import Reply, check_dialect, requests_total, send, soap_fault
from tests.hostile.conftest import Echo
from tests.hostile.corpus import EXAM, HOSPITAL, SERVLET, corpus, deep_json, deep_xml

MAX_BODY = 16 * 1024
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"


def envelope(inner: str, ns: str = SOAP11) -> bytes:
    escaped = inner.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (f'<s:Envelope xmlns:s="{ns}" xmlns:h="http://hospital.example/ws"><s:Body>'
            f"<h:confirmRegistration><xml>{escaped}</xml></h:confirmRegistration>"
            "</s:Body></s:Envelope>").encode()


# dialect -> (path, content type, a normal body)
DIALECTS: dict[str, tuple[str, str, bytes]] = {
    "xml": (SERVLET, "text/xml; charset=utf-8", b"<referral><orderid>1</orderid></referral>"),
    "soap11": (HOSPITAL, "text/xml; charset=utf-8",
               envelope("<Request><TransactionId>T1</TransactionId></Request>")),
    "soap12": (HOSPITAL, "application/soap+xml; charset=utf-8",
               envelope("<Request><TransactionId>T1</TransactionId></Request>", SOAP12)),
    "json": (EXAM, "application/json", b'{"method": "XKH073", "data": {"a": 1}}'),
}
def seen_status(dialect: str, status: int) -> int:
    """The HTTP status a caller sees for an error: SOAP 1.1 answers every fault with 500,
    SOAP 1.2 a Sender fault with 400 (DESIGN §3); the precise status is in the fault detail."""
    if dialect == "soap11":
        return 500
    if dialect == "soap12":
        return 400 if status < 500 else 500
    return status


def padded(dialect: str, size: int) -> bytes:
    """The dialect's normal body with ``size`` bytes of padding in one field."""
    _, _, body = DIALECTS[dialect]
    pad = b"x" * size
    if dialect == "json":
        return body[:-1] + b', "pad": "' + pad + b'"}'
    if dialect == "xml":
        return body.replace(b"<orderid>", b"<pad>" + pad + b"</pad><orderid>")
    return body.replace(b"&lt;TransactionId&gt;", b"&lt;pad&gt;" + pad + b"&lt;/pad&gt;&lt;TransactionId&gt;")


async def assert_answer(reply: Reply, dialect: str, status: int, code: str | None = None) -> Any:
    doc = check_dialect(reply, dialect, seen_status(dialect, status))
    text = reply.body.decode("utf-8", "replace")
    assert "Traceback" not in text
    if dialect == "json":
        assert doc["error"]["status"] == status
        if code:
            assert doc["error"]["code"] == code
    elif dialect == "xml":
        assert doc.findtext("result") == "false"
    else:
        fault_code, _ = soap_fault(doc, "1.1" if dialect == "soap11" else "1.2")
        assert fault_code in ("soap:Client", "soap:Sender")
        assert doc.findtext(".//status") == str(status)     # default detail: status and code
        if code:
            assert doc.findtext(".//code") == code
    return doc


async def assert_healthy(http: aiohttp.ClientSession, bridge: RunningBridge, echo: Echo,
                         dialect: str) -> None:
    async with http.get(bridge.url + "/healthz") as r:
        assert r.status == 200
    path, ctype, body = DIALECTS[dialect]
    seen = len(echo.received)
    reply = await send(http, bridge.url + path, body, {"Content-Type": ctype})
    assert reply.status == 200, reply.body
    assert len(echo.received) == seen + 1


@pytest.fixture
async def counted(http: aiohttp.ClientSession, limited: RunningBridge) -> AsyncIterator[Any]:
    """Yields a check that exactly one request was counted, under (route, outcome)."""
    before = await requests_total(http, limited.url)

    async def check(route: str, outcome: str = "bad_request") -> None:
        after = await requests_total(http, limited.url)
        assert after.get((route, outcome), 0) == before.get((route, outcome), 0) + 1, (after, before)
        assert sum(after.values()) == sum(before.values()) + 1
    yield check


@pytest.mark.parametrize("dialect", list(DIALECTS))
async def test_declared_body_larger_than_max_body_is_413(dialect, limited, echo, http, counted):
    path, ctype, _ = DIALECTS[dialect]
    body = padded(dialect, MAX_BODY)
    assert len(body) > MAX_BODY
    reply = await send(http, limited.url + path, body, {"Content-Type": ctype})
    await assert_answer(reply, dialect, 413, "too_large")
    await counted("unmatched")
    assert echo.received == []
    await assert_healthy(http, limited, echo, dialect)


@pytest.mark.parametrize("dialect", list(DIALECTS))
async def test_chunked_body_larger_than_max_body_is_413(dialect, limited, echo, http, counted):
    path, ctype, _ = DIALECTS[dialect]
    body = padded(dialect, 4 * MAX_BODY)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 4096):
            yield body[i:i + 4096]

    async with http.post(limited.url + path, data=chunks(), headers={"Content-Type": ctype}) as r:
        reply = Reply(r.status, r.headers.copy(), await r.read())
    await assert_answer(reply, dialect, 413, "too_large")
    await counted("unmatched")
    assert echo.received == []
    await assert_healthy(http, limited, echo, dialect)


async def test_bodies_just_under_max_body_pass(limited, echo, http):
    for dialect in DIALECTS:
        path, ctype, _ = DIALECTS[dialect]
        body = padded(dialect, MAX_BODY - 400)
        assert len(body) <= MAX_BODY
        reply = await send(http, limited.url + path, body, {"Content-Type": ctype})
        assert reply.status == 200, (dialect, reply.body[:300])
    assert len(echo.received) == len(DIALECTS)


def nested_request(levels: int, ns: str = SOAP11) -> bytes:
    return envelope("<Request>" + "<a>" * levels + "</a>" * levels + "</Request>", ns)


# dialect -> (max_depth + 2 levels, max_depth levels, the route label of the refusal)
DEEP = {
    "xml": (deep_xml(10), deep_xml(8), "limits.xml"),          # parsed, too deep for the route
    "json": (deep_json(10), deep_json(8), "unmatched"),        # refused while parsing
    "soap11": (nested_request(10), nested_request(8), "limits.soap"),
    "soap12": (nested_request(10, SOAP12), nested_request(8, SOAP12), "limits.soap"),
}


@pytest.mark.parametrize("dialect", list(DEEP))
async def test_nesting_deeper_than_max_depth_is_400(dialect, limited, echo, http, counted):
    path, ctype, _ = DIALECTS[dialect]
    deep, shallow, route = DEEP[dialect]
    with capture_logs() as logs:
        reply = await send(http, limited.url + path, deep, {"Content-Type": ctype})
    await assert_answer(reply, dialect, 400)
    assert [e["error_code"] for e in logs if e.get("event") == "request"] == ["too_deep"]
    await counted(route)
    assert echo.received == []
    # exactly max_depth levels are accepted: the limit is max_depth, not something smaller
    reply = await send(http, limited.url + path, shallow, {"Content-Type": ctype})
    assert reply.status == 200, reply.body
    await assert_healthy(http, limited, echo, dialect)


STRICT_XML = {
    "nul byte": corpus("nul-byte.xml"),
    "control characters": corpus("control-chars.xml"),
    "truncated mid-tag": corpus("truncated-mid-tag.xml"),
}


@pytest.mark.parametrize("name", list(STRICT_XML))
async def test_a_strict_route_refuses_nul_control_characters_and_truncation(name, limited, echo, http, counted):
    with capture_logs() as logs:
        reply = await send(http, limited.url + SERVLET, STRICT_XML[name], {"Content-Type": "text/xml"})
    doc = await assert_answer(reply, "xml", 400)
    assert "line" in doc.findtext("message")
    assert [e["error_code"] for e in logs if e.get("event") == "request"] == ["malformed_xml"]
    await counted("unmatched")
    assert echo.received == []
    await assert_healthy(http, limited, echo, "xml")


async def raw_exchange(port: int, data: bytes, *, wait: float = 10) -> bytes:
    """Send raw bytes on a fresh connection while reading; what the server answered.

    The server may answer and close before it has read everything (a refused header): the
    writer then fails, which is expected; the answer already read is what counts.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def write() -> None:
        try:
            for i in range(0, len(data), 65536):
                writer.write(data[i:i + 65536])
                await writer.drain()
        except ConnectionError:
            pass

    sender = asyncio.create_task(write())
    got = b""
    try:
        async with asyncio.timeout(wait):
            while b"\r\n\r\n" not in got or not got.startswith(b"HTTP/"):
                chunk = await reader.read(65536)
                if not chunk:
                    break
                got += chunk
            if b"Content-Length:" in got:         # the whole body of the answer
                length = int(got.split(b"Content-Length:", 1)[1].split(b"\r\n", 1)[0])
                while len(got.partition(b"\r\n\r\n")[2]) < length:
                    chunk = await reader.read(65536)
                    if not chunk:
                        break
                    got += chunk
    except ConnectionError:
        pass
    finally:
        sender.cancel()
        writer.close()
    return got


@pytest.mark.parametrize("dialect", list(DIALECTS))
async def test_headers_then_a_stall_is_408_in_the_callers_dialect(dialect, limited, echo, http, counted):
    path, ctype, body = DIALECTS[dialect]
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body) + 100}\r\n\r\n").encode()
    raw = await raw_exchange(limited.port, head + body[:10])     # promises more than it sends
    status_line, _, rest = raw.partition(b"\r\n")
    headers_raw, _, payload = rest.partition(b"\r\n\r\n")
    status = int(status_line.split()[1])
    ctype_seen = next(line.split(b":", 1)[1].strip().decode() for line in headers_raw.split(b"\r\n")
                      if line.lower().startswith(b"content-type:"))
    reply = Reply(status, {"Content-Type": ctype_seen}, payload)
    await assert_answer(reply, dialect, 408, "read_timeout")
    await counted("unmatched")
    assert echo.received == []
    await assert_healthy(http, limited, echo, dialect)


async def test_a_10_mb_header_is_refused_and_the_bridge_stays_healthy(limited, echo, http):
    head = (f"POST {SERVLET} HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n".encode()
            + b"X-Huge: " + b"a" * (10 * 1024 * 1024) + b"\r\nContent-Length: 9\r\n\r\n")
    raw = await raw_exchange(limited.port, head + b"<referral/>"[:9])
    status = int(raw.split(b" ", 2)[1])
    assert status in (400, 431), raw[:300]
    assert b"Traceback" not in raw
    # many headers, each small: the same
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(20_000))
    raw = await raw_exchange(limited.port, f"POST {SERVLET} HTTP/1.1\r\nHost: x\r\n".encode() + many
                             + b"Content-Length: 0\r\n\r\n")
    assert int(raw.split(b" ", 2)[1]) in (400, 431), raw[:300]
    assert echo.received == []
    await assert_healthy(http, limited, echo, "xml")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE"])
async def test_methods_other_than_post_are_405(method, limited, echo, http):
    for path in (SERVLET, HOSPITAL, EXAM):
        async with http.request(method, limited.url + path, data=b"<referral/>") as r:
            assert r.status == 405, (method, path)
            assert r.headers["Allow"] == "POST"
            body = await r.read()
            assert b"Traceback" not in body
    assert echo.received == []
    await assert_healthy(http, limited, echo, "json")


async def test_json_depth_is_bounded_by_max_depth_not_by_orjson(limited, echo, http):
    """orjson alone would take 1024 levels; the route's max_depth (8) decides."""
    reply = await send(http, limited.url + EXAM, deep_json(9), {"Content-Type": "application/json"})
    assert reply.status == 400
    assert "deeper than 8" in orjson.loads(reply.body)["error"]["message"]
