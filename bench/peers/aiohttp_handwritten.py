"""Peer 2: what a skilled engineer writes by hand — aiohttp + lxml + orjson, one handler per call.

The same work as the bridge's routes (W1 referral.apply, W2/W3 in bench/routes.yaml), written the
way one would without a framework: module-level constants, one shared ClientSession, no logging,
no metrics, no generic pipeline. It is the bar the bridge has to reach.

    python bench/peers/aiohttp_handwritten.py --port 8081 --upstream http://127.0.0.1:9100
"""

from __future__ import annotations

import argparse
import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml
from aiohttp import web
from Crypto.Cipher import AES
from Crypto.Util.Padding import pad
from lxml import etree

ROOT = Path(__file__).resolve().parents[2]
GLOSSARY: dict[str, str] = yaml.safe_load((ROOT / "transforms/glossary/referral.yaml").read_text())
REQUIRED = {"order_id": 64, "from_hospital_code": 22, "patient_name": 64, "id_no": 32, "visit_type": 22}
AES_KEY = b"dev-only-bench-key-not-secret-32"  # development key, the same as bench/routes.yaml
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, recover=True, huge_tree=False)
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
WS_NS = "http://platform.example/ws"
WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+[a-z]*")
SESSION = web.AppKey("session", aiohttp.ClientSession)
UPSTREAM = web.AppKey("upstream", str)


@lru_cache(maxsize=1024)
def snake(key: str) -> str:
    return "_".join(w.lower() for w in WORD.findall(key))


@lru_cache(maxsize=1024)
def pascal(key: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in key.split("_"))


def referral_xml(children: dict[str, str]) -> web.Response:
    root = etree.Element("referral")
    for k, v in children.items():
        etree.SubElement(root, k).text = v
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return web.Response(body=body, content_type="application/xml", charset="utf-8")


async def w1_referral(request: web.Request) -> web.Response:
    root = etree.fromstring(await request.read(), PARSER)
    doc = {GLOSSARY.get(el.tag, el.tag): (el.text or "").strip() for el in root if isinstance(el.tag, str)}
    if doc.get("birth_date"):
        doc["birth_date"] = datetime.strptime(doc["birth_date"], "%Y%m%d").strftime("%Y-%m-%d")
    for name, size in REQUIRED.items():
        if not doc.get(name) or len(doc[name]) > size:
            return referral_xml({"result": "false", "message": f"{name}: missing or too long"})
    async with request.app[SESSION].post(request.app[UPSTREAM] + "/referral/apply", data=orjson.dumps(doc),
                                         headers={"Content-Type": "application/json"}) as r:
        reply = orjson.loads(await r.read())
    if r.status != 200 or not reply["head"]["code"] > 0:
        return referral_xml({"result": "false", "message": str(reply["head"]["msg"])})
    data = reply["data"]
    return referral_xml({"parm": f"referralCode={data['referral_code']}&type={data['type']}", "result": "true"})


def element_tree(el: etree._Element) -> Any:
    kids = [k for k in el if isinstance(k.tag, str)]
    if not kids:
        return el.text or ""
    if el.tag == "WorkInfo":
        return {"record": [element_tree(k) for k in kids]}
    return {snake(k.tag): element_tree(k) for k in kids}


def soap_reply(tree: dict[str, Any]) -> web.Response:
    inner = etree.Element("Response")
    for k, v in tree.items():
        etree.SubElement(inner, pascal(k)).text = str(v)
    env = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"soap": SOAP_NS})
    op = etree.SubElement(etree.SubElement(env, f"{{{SOAP_NS}}}Body"),
                          f"{{{WS_NS}}}synchronizedWorkInfoResponse", nsmap={"ns": WS_NS})
    etree.SubElement(op, "return").text = etree.tostring(inner, encoding="unicode")
    return web.Response(body=etree.tostring(env, xml_declaration=True, encoding="UTF-8"),
                        content_type="text/xml", charset="utf-8")


async def w2_schedule(request: web.Request) -> web.Response:
    env = etree.fromstring(await request.read(), PARSER)
    param = env.find(f"{{{SOAP_NS}}}Body/{{{WS_NS}}}synchronizedWorkInfo/xml")
    doc = element_tree(etree.fromstring(param.text.encode(), PARSER))
    async with request.app[SESSION].post(request.app[UPSTREAM] + "/w2/schedule", data=orjson.dumps(doc),
                                         headers={"Content-Type": "application/json"}) as r:
        reply = orjson.loads(await r.read())
    if r.status != 200 or reply["result_code"] != 0:
        raise web.HTTPInternalServerError(text=str(reply.get("error_msg")))
    return soap_reply(reply)


def encrypt(value: str) -> str:
    return AES.new(AES_KEY, AES.MODE_ECB).encrypt(pad(value.encode(), 16)).hex()


async def w3_exam(request: web.Request) -> web.Response:
    data = orjson.loads(await request.read())["data"]
    for name in ("idCardNO", "contactPhoneNO"):
        if data.get(name):
            data[name] = encrypt(data[name])
    for order in data.get("orders", []):
        if order.get("medRecNO"):
            order["medRecNO"] = encrypt(order["medRecNO"])
    async with request.app[SESSION].post(request.app[UPSTREAM] + "/w3/exam", data=orjson.dumps(data),
                                         headers={"Content-Type": "application/json"}) as r:
        body = await r.read()
    if r.status != 200 or orjson.loads(body).get("resultCode") != "Success":
        return web.json_response({"error": "upstream"}, status=502)
    return web.Response(body=body, content_type="application/json")


def build(upstream: str) -> web.Application:
    app = web.Application()
    app[UPSTREAM] = upstream.rstrip("/")

    async def session(app: web.Application):  # type: ignore[no-untyped-def]
        app[SESSION] = aiohttp.ClientSession()
        yield
        await app[SESSION].close()

    app.cleanup_ctx.append(session)
    app.router.add_post("/referral/api/SxzzAppServlet", w1_referral)
    app.router.add_post("/ws/schedule", w2_schedule)
    app.router.add_post("/exam/api", w3_exam)
    return app


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8081)
    p.add_argument("--upstream", default="http://127.0.0.1:9100")
    a = p.parse_args()
    web.run_app(build(a.upstream), host=a.host, port=a.port, access_log=None, print=None)
