"""Peer 3: what a typical integrator writes — FastAPI + httpx + xmltodict, served by uvicorn.

Library defaults throughout: one httpx.AsyncClient made in the lifespan, xmltodict for XML both
ways, the stdlib json via FastAPI's responses, plain ``uvicorn`` (no uvloop/httptools extras
installed). Runs in bench/.venv-peers, never in the product's venv.

    UPSTREAM_URL=http://127.0.0.1:9100 uvicorn --app-dir bench/peers fastapi_peer:app --port 8083
"""

from __future__ import annotations

import os
import re
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import httpx
import xmltodict
import yaml
from Crypto.Cipher import AES
from Crypto.Util.Padding import pad
from fastapi import FastAPI, HTTPException, Request, Response

UPSTREAM = os.environ.get("UPSTREAM_URL", "http://127.0.0.1:9100").rstrip("/")
ROOT = Path(__file__).resolve().parents[2]
GLOSSARY = yaml.safe_load((ROOT / "transforms/glossary/referral.yaml").read_text())
REQUIRED = {"order_id": 64, "from_hospital_code": 22, "patient_name": 64, "id_no": 32, "visit_type": 22}
AES_KEY = b"dev-only-bench-key-not-secret-32"  # development key, the same as bench/routes.yaml
client: httpx.AsyncClient


@asynccontextmanager
async def lifespan(app: FastAPI):
    global client
    async with httpx.AsyncClient(base_url=UPSTREAM) as client:
        yield


app = FastAPI(lifespan=lifespan)


def xml_reply(doc: dict) -> Response:
    return Response(xmltodict.unparse({"referral": doc}), media_type="application/xml")


@app.post("/referral/api/SxzzAppServlet")
async def referral_apply(request: Request) -> Response:
    src = xmltodict.parse(await request.body())["referral"]
    doc = {GLOSSARY.get(k, k): (v or "") for k, v in src.items()}
    if doc.get("birth_date"):
        doc["birth_date"] = datetime.strptime(doc["birth_date"], "%Y%m%d").strftime("%Y-%m-%d")
    for name, size in REQUIRED.items():
        if not doc.get(name) or len(doc[name]) > size:
            return xml_reply({"result": "false", "message": f"{name}: missing or too long"})
    r = await client.post("/referral/apply", json=doc)
    reply = r.json()
    if reply["head"]["code"] <= 0:
        return xml_reply({"result": "false", "message": reply["head"]["msg"]})
    data = reply["data"]
    return xml_reply({"parm": f"referralCode={data['referral_code']}&type={data['type']}", "result": "true"})


def snake(key: str) -> str:
    return "_".join(w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+[a-z]*", key))


def snake_keys(node):
    if isinstance(node, dict):
        return {snake(k): snake_keys(v) for k, v in node.items()}
    if isinstance(node, list):
        return [snake_keys(v) for v in node]
    return node


@app.post("/ws/schedule")
async def schedule(request: Request) -> Response:
    env = xmltodict.parse(await request.body())
    xml = env["soap:Envelope"]["soap:Body"]["ws:synchronizedWorkInfo"]["xml"]
    doc = snake_keys(xmltodict.parse(xml, force_list=("Record",))["Request"])
    r = await client.post("/w2/schedule", json=doc)
    reply = r.json()
    if reply["result_code"] != 0:
        raise HTTPException(500, reply["error_msg"])
    inner = xmltodict.unparse({"Response": {"".join(w.title() for w in k.split("_")): v
                                            for k, v in reply.items()}}, full_document=False)
    out = {"soap:Envelope": {"@xmlns:soap": "http://schemas.xmlsoap.org/soap/envelope/", "soap:Body": {
        "ns:synchronizedWorkInfoResponse": {"@xmlns:ns": "http://platform.example/ws", "return": inner}}}}
    return Response(xmltodict.unparse(out), media_type="text/xml")


def encrypt(value: str) -> str:
    return AES.new(AES_KEY, AES.MODE_ECB).encrypt(pad(value.encode(), 16)).hex()


@app.post("/exam/api")
async def exam(request: Request) -> dict:
    data = (await request.json())["data"]
    for name in ("idCardNO", "contactPhoneNO"):
        if data.get(name):
            data[name] = encrypt(data[name])
    for order in data.get("orders", []):
        if order.get("medRecNO"):
            order["medRecNO"] = encrypt(order["medRecNO"])
    r = await client.post("/w3/exam", json=data)
    reply = r.json()
    if reply.get("resultCode") != "Success":
        raise HTTPException(502, reply.get("resultDesc"))
    return reply
