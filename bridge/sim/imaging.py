"""Simulator of the Tencent imaging cloud (seed 004, 腾讯觅影影像云): patient study queries.

JSON camelCase in and out, ``{code, message, data}`` back, ``code`` 0 success. ``phoneNum`` and
``idNum`` arrive encrypted: AES-256-ECB (PKCS#7 padding, as Java's AES/ECB/PKCS5Padding), hex,
key = the 32-character signature token. The simulator decrypts them with its own token (env
``IMAGING_TOKEN``, the same development default as routes.yaml) and refuses anything that is not
hex, not whole blocks, or does not decrypt to a plausible phone / id-card number, so a route that
forgets to encrypt, encrypts with another key, or encodes base64 fails here as it would in
production. Enum fields (studyType, dataFlag, usage) must be JSON integers in the seed's ranges.

The seed names no URLs; these are the simulator's (document them with your real tenant's):

- ``POST /openapi/patient/studies``  seed table 1: study list  -> data ``[Study]``
- ``POST /openapi/patient/consult``  seed table 2: consultation list -> data ``{h5Url}``
- ``POST /openapi/study/url``        seed table 3: one study's report -> data ``{h5Url, h5DetailUrl, studyId}``

Every patient has the same three deterministic studies (two hospitals of union ``U01``, one of
``U02``), so filters (studyType, dataFlag, dates) are visible in any demo. Errors: code 40001
invalid parameter, 40002 decryption failed, 40004 report not found; always HTTP 200.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from typing import Any

from aiohttp import web
from Crypto.Cipher import AES
from Crypto.Util.Padding import unpad

from bridge.sim import register_sim
from bridge.sim.base import add_endpoint, new_app

#: Development-only default; the real token comes from IMAGING_TOKEN (same default as routes.yaml).
DEV_TOKEN = "dev-only-imaging-token-notsecret"
BAD_PARAM, BAD_CRYPTO, NOT_FOUND = 40001, 40002, 40004
STUDY_TYPES = range(0, 6)      # 0 放射 1 眼科 2 病理 3 内镜 4 心电 5 超声
DATA_FLAGS = range(0, 5)       # 0 all, 1 this hospital, 2 other hospitals, 3 this union, 4 other unions
USAGES = range(0, 3)           # 0 patient list, 1 online consultation, 2 doctor views details
_PHONE = re.compile(r"1\d{10}")
_ID = re.compile(r"\d{15}|\d{17}[\dXx]")
_HEX = re.compile(r"(?:[0-9a-fA-F]{32})+")
_TIME = "%Y-%m-%d %H:%M:%S"
CLOUD = "https://imaging.example/h5"

TOKEN = web.AppKey("imaging_token", str)


def reply(code: int, message: str, data: Any = None) -> dict[str, Any]:
    return {"code": code, "message": message, "data": data}


def decrypt_field(token: str, name: str, value: Any) -> str:
    """One encrypted field in clear; ValueError naming what is wrong with it."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name}: required (AES-256-ECB, hex)")
    if not _HEX.fullmatch(value):
        raise ValueError(f"{name}: not AES-256-ECB hex (expected whole 16-byte blocks as hex)")
    try:
        clear = unpad(AES.new(token.encode(), AES.MODE_ECB).decrypt(bytes.fromhex(value)), 16)
        text = clear.decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"{name}: decryption failed (wrong key?)") from None
    shape = _PHONE if name == "phoneNum" else _ID
    if not shape.fullmatch(text):
        raise ValueError(f"{name}: decryption failed (wrong key?)")
    return text


def _problems(body: dict[str, Any], required: tuple[str, ...],
              enums: dict[str, range]) -> list[str]:
    out = [f"{n}: required" for n in required if body.get(n) in (None, "")]
    for name, allowed in enums.items():
        v = body.get(name)
        if v is None:
            out.append(f"{name}: required")
        elif type(v) is not int or v not in allowed:
            out.append(f"{name}: must be an integer {allowed.start}..{allowed.stop - 1}, got {v!r}")
    for name in ("studyDateBegin", "studyDateEnd"):
        if name in required and isinstance(body.get(name), str):
            try:
                dt.datetime.strptime(body[name], _TIME)
            except ValueError:
                out.append(f"{name}: expected yyyy-MM-dd HH:mm:ss, got {body[name]!r}")
    return out


def _identity(request: web.Request, body: dict[str, Any]) -> tuple[str, str]:
    token = request.app[TOKEN]
    return (decrypt_field(token, "phoneNum", body.get("phoneNum")),
            decrypt_field(token, "idNum", body.get("idNum")))


def studies_of(id_num: str) -> list[dict[str, Any]]:
    """The patient's studies: deterministic from the id number, three hospitals, two unions."""
    n = int(hashlib.sha256(id_num.encode()).hexdigest()[:6], 16) % 9000 + 1000
    rows = [("H0001", "U01", 0, "2024-03-01 09:12:00", "胸部", "胸部CT平扫"),
            ("H0002", "U01", 5, "2024-05-20 14:30:00", "腹部", "上腹部彩超"),
            ("H0900", "U02", 0, "2024-07-08 10:05:00", "头颅", "头颅MR平扫")]
    out = []
    for i, (hospital, union, stype, when, part, name) in enumerate(rows, 1):
        report = f"RPT{n}{i:02d}"
        out.append({"hospitalId": hospital, "unionId": union,
                    "hisId": f"HIS{n}", "reportId": report, "studyType": stype, "studyDate": when,
                    "studyId": f"ST{n}{i:02d}", "bodyPart": part, "studyName": name,
                    "applyDoctor": "王医生", "applyDoctorId": "D100", "applyDept": "放射科",
                    "applyDeptId": "K200", "uniAppId": "wx0000000000000000",
                    "uniPath": f"pages/report/index?reportId={report}",
                    "h5Url": f"{CLOUD}/report/{report}", "h5DetailUrl": f"{CLOUD}/image/{report}"})
    return out


def _flag_keeps(flag: int, study: dict[str, Any], hospital: str, union: str) -> bool:
    return {0: True, 1: study["hospitalId"] == hospital, 2: study["hospitalId"] != hospital,
            3: study["unionId"] == union, 4: study["unionId"] != union}[flag]


async def study_list(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    """Seed table 1: the patient's studies of one type, filtered by dataFlag and dates."""
    problems = _problems(body, ("phoneNum", "idNum", "hospitalId", "unionId", "studyDateBegin",
                                "studyDateEnd"),
                         {"studyType": STUDY_TYPES, "dataFlag": DATA_FLAGS, "usage": USAGES})
    if problems:
        return reply(BAD_PARAM, "; ".join(problems))
    try:
        _, id_num = _identity(request, body)
    except ValueError as exc:
        return reply(BAD_CRYPTO, str(exc))
    begin, end = body["studyDateBegin"], body["studyDateEnd"]
    keep = [s for s in studies_of(id_num)
            if s["studyType"] == body["studyType"] and begin <= s["studyDate"] <= end
            and _flag_keeps(body["dataFlag"], s, body["hospitalId"], body["unionId"])]
    data = [{k: v for k, v in s.items() if k not in ("hospitalId", "unionId")} for s in keep]
    return reply(0, "success", data)


async def consult(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    """Seed table 2: the H5 page listing the patient's consultations."""
    problems = _problems(body, ("hisId", "phoneNum", "idNum", "hospitalId", "unionId"), {})
    if problems:
        return reply(BAD_PARAM, "; ".join(problems))
    try:
        _, id_num = _identity(request, body)
    except ValueError as exc:
        return reply(BAD_CRYPTO, str(exc))
    key = hashlib.sha256(id_num.encode()).hexdigest()[:12]
    return reply(0, "success", {"h5Url": f"{CLOUD}/consult/{body['hospitalId']}/{key}"})


async def study_url(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    """Seed table 3: one study's report and image pages, by reportId."""
    problems = _problems(body, ("reportId", "phoneNum", "idNum", "hospitalId"), {})
    if problems:
        return reply(BAD_PARAM, "; ".join(problems))
    try:
        _, id_num = _identity(request, body)
    except ValueError as exc:
        return reply(BAD_CRYPTO, str(exc))
    study = next((s for s in studies_of(id_num) if s["reportId"] == body["reportId"]), None)
    if study is None:
        return reply(NOT_FOUND, f"reportId {body['reportId']} not found for this patient")
    return reply(0, "success", {k: study[k] for k in ("h5Url", "h5DetailUrl", "studyId")})


@register_sim("imaging", default_port=9108)
def create_app() -> web.Application:
    """Tencent imaging cloud (seed 004): /openapi/patient/studies, /consult, /openapi/study/url."""
    app = new_app("imaging")
    app[TOKEN] = os.environ.get("IMAGING_TOKEN") or DEV_TOKEN
    add_endpoint(app, "/openapi/patient/studies", study_list)
    add_endpoint(app, "/openapi/patient/consult", consult)
    add_endpoint(app, "/openapi/study/url", study_url)
    return app
