"""A small, independent checker of request bodies against the transcribed vendor specs.

The specs live in ``transforms/specs/<system>/*.yaml`` (format: ``transforms/specs/README.md``),
one file per endpoint, written from the seed text alone. This module loads them into plain
dataclasses and checks a decoded JSON (or form) body against an endpoint's ``request`` fields:

- every field with ``required: true`` is present and non-empty (``None``, a blank string, ``[]``
  and ``{}`` are empty), recursively through objects and lists of objects;
- no field the spec does not define (each unknown field is named);
- JSON types: string -> str; integer -> int (not bool); number -> int or float (not bool);
  boolean -> bool; object -> dict; list -> list; date / datetime -> str;
- enum membership (the enum's keys, compared as strings; a whole float such as ``1.0`` counts
  as ``1``);
- ``max_length`` where given, in UTF-8 bytes when the field's (or file's) ``length_unit`` is
  ``bytes``, else in characters;
- a ``format`` that is a date/time pattern (``yyyy-MM-dd``, ``yyyyMMdd``, ``YYYY-MM-DD HH:mm:ss``,
  ``hh:mm:ss``, ``HH:NN-HH:NN`` ...): digits in the right places and a real calendar date/time.

``required: conditional`` fields are not enforced (their condition is free text) but are still
checked when present. An optional field sent as JSON ``null`` counts as absent; an optional field
sent as an empty string is type-checked but not enum/format/length-checked ("not given").

Every problem is returned at once, as a short string naming the field path (``patient[0].op_flag``)
and never echoing the value received.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

SPECS_ROOT = Path(__file__).resolve().parents[2] / "transforms" / "specs"

SCALAR_TYPES = ("string", "integer", "number", "boolean", "date", "datetime")


@dataclass(frozen=True)
class Field:
    """One row of a spec table (request or response)."""

    name: str
    type: str
    required: bool | str = False          # True | False | "conditional"
    enum: Mapping[str, str] | None = None  # value (as string) -> meaning
    format: str | None = None
    max_length: int | None = None
    length_unit: str | None = None
    description: str = ""
    fields: tuple["Field", ...] = ()

    @property
    def must(self) -> bool:
        return self.required is True


@dataclass(frozen=True)
class Endpoint:
    """One spec file: an endpoint of the vendor's API."""

    name: str                  # the file stem (getPatient, appointment_info_get, ...)
    section: str
    operation: str
    method: str
    path: str
    format: str                # json | form | xml | soap
    charset: str | None
    length_unit: str
    request: tuple[Field, ...]
    response: tuple[Field, ...]
    success: Mapping[str, Any] | None
    failure: str | None
    notes: tuple[str, ...] = field(default=())


def _field(row: Mapping[str, Any]) -> Field:
    enum = row.get("enum")
    return Field(
        name=str(row["name"]),
        type=str(row.get("type", "string")),
        required=row.get("required", False),
        enum={str(k): str(v) for k, v in enum.items()} if enum else None,
        format=row.get("format"),
        max_length=row.get("max_length"),
        length_unit=row.get("length_unit"),
        description=str(row.get("description") or ""),
        fields=tuple(_field(r) for r in row.get("fields") or ()),
    )


def load_endpoint(path: Path) -> Endpoint:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    transport = doc.get("transport") or {}
    return Endpoint(
        name=path.stem,
        section=str(doc.get("section", "")),
        operation=str(doc.get("operation", "")),
        method=str(transport.get("method", "POST")).upper(),
        path=str(transport.get("path") or "/" + path.stem),
        format=str(transport.get("format", "json")),
        charset=doc.get("charset"),
        length_unit=str(doc.get("length_unit", "chars")),
        request=tuple(_field(r) for r in doc.get("request") or ()),
        response=tuple(_field(r) for r in doc.get("response") or ()),
        success=doc.get("success"),
        failure=doc.get("failure"),
        notes=tuple(str(n) for n in doc.get("notes") or ()),
    )


def load_specs(system: str, root: Path = SPECS_ROOT) -> dict[str, Endpoint]:
    """Every endpoint of one system folder, keyed by file stem (sorted)."""
    folder = root / system
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise FileNotFoundError(f"no spec files in {folder}")
    return {p.stem: load_endpoint(p) for p in files}


# --- date / time formats -------------------------------------------------------------------

_TOKEN = re.compile(r"yyyy|YYYY|MM|mm|DD|dd|HH|hh|NN|nn|SS|ss")


def _tokens(fmt: str) -> list[tuple[str, str]]:
    """Split a pattern into (kind, text) parts: kind is Y M D h m s or a literal ('')."""
    parts: list[tuple[str, str]] = []
    pos = 0
    after_hour = False
    for m in _TOKEN.finditer(fmt):
        if m.start() > pos:
            parts.append(("", fmt[pos:m.start()]))
        tok = m.group()
        low = tok.lower()
        if low == "yyyy":
            kind = "Y"
        elif low == "dd":
            kind = "D"
        elif low == "hh":
            kind, after_hour = "h", True
        elif low == "nn":
            kind = "m"
        elif low == "ss":
            kind = "s"
        else:                                   # MM / mm: month before an hour, minute after
            kind = "m" if after_hour else "M"
        parts.append((kind, tok))
        pos = m.end()
    if pos < len(fmt):
        parts.append(("", fmt[pos:]))
    return parts


def is_checkable_format(fmt: str | None) -> bool:
    """A pattern made of date/time tokens and separators only (so it can be checked)."""
    if not fmt:
        return False
    parts = _tokens(fmt)
    return any(k for k, _ in parts) and all(k or re.fullmatch(r"[-:/ T.]+", t) for k, t in parts)


def format_matches(fmt: str, value: str) -> bool:
    """Does ``value`` follow ``fmt`` (digits where tokens are, a real date, times in range)?"""
    parts = _tokens(fmt)
    rx = "".join(f"(\\d{{{4 if k == 'Y' else 2}}})" if k else re.escape(t) for k, t in parts)
    m = re.fullmatch(rx, value)
    if not m:
        return False
    values = [int(g) for g in m.groups()]
    kinds = [k for k, _ in parts if k]
    found: dict[str, int] = {}
    for kind, v in zip(kinds, values):
        limit = {"M": (1, 12), "D": (1, 31), "h": (0, 23), "m": (0, 59), "s": (0, 59)}.get(kind)
        if limit and not limit[0] <= v <= limit[1]:
            return False
        found.setdefault(kind, v)
    if {"Y", "M", "D"} <= found.keys():
        if found["D"] > calendar.monthrange(found["Y"], found["M"])[1]:
            return False
    return True


def render_format(fmt: str, when: dt.datetime | dt.date, until: dt.datetime | None = None) -> str:
    """Write ``when`` in ``fmt``; a second hour group (a range, HH:NN-HH:NN) takes ``until``."""
    if not isinstance(when, dt.datetime):
        when = dt.datetime.combine(when, dt.time())
    current = when
    out = []
    hours_seen = 0
    for kind, text in _tokens(fmt):
        if kind == "h":
            hours_seen += 1
            if hours_seen == 2:
                current = until or when + dt.timedelta(hours=1)
        out.append({"": text, "Y": f"{current.year:04d}", "M": f"{current.month:02d}",
                     "D": f"{current.day:02d}", "h": f"{current.hour:02d}",
                     "m": f"{current.minute:02d}", "s": f"{current.second:02d}"}[kind]
                   if kind else text)
    return "".join(out)


# --- the checker -----------------------------------------------------------------------------

def json_type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def type_ok(ftype: str, value: Any, *, form: bool = False) -> bool:
    """Is ``value`` of the spec type ``ftype``? In form mode scalars arrive as strings."""
    if form and isinstance(value, str):
        if ftype in ("string", "date", "datetime"):
            return True
        if ftype == "integer":
            return re.fullmatch(r"-?\d+", value) is not None
        if ftype == "number":
            return re.fullmatch(r"-?\d+(\.\d+)?", value) is not None
        if ftype == "boolean":
            return value in ("true", "false", "1", "0")
        return False
    if ftype in ("string", "date", "datetime"):
        return isinstance(value, str)
    if ftype == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if ftype == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if ftype == "boolean":
        return isinstance(value, bool)
    if ftype == "object":
        return isinstance(value, dict)
    if ftype == "list":
        return isinstance(value, list)
    return True                               # a type this checker does not know: no check


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value in ([], {})


def enum_key(value: Any) -> str:
    """A value as an enum key: its string form, a whole float as an integer (1.0 -> "1")."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def check_fields(fields: Iterable[Field], data: Mapping[str, Any], *, prefix: str = "",
                 length_unit: str = "chars", form: bool = False,
                 allow_unknown: bool = False) -> list[str]:
    """Every problem of ``data`` against ``fields`` (see the module docstring)."""
    fields = tuple(fields)
    problems: list[str] = []
    known = {f.name for f in fields}
    if not allow_unknown:
        problems += [f"{prefix}{key}: unknown field" for key in data if key not in known]
    for f in fields:
        path = prefix + f.name
        if f.name not in data or data[f.name] is None:
            if f.must:
                problems.append(f"{path}: required")
            continue
        problems += check_value(f, data[f.name], path, length_unit=length_unit, form=form,
                                allow_unknown=allow_unknown)
    return problems


def check_value(f: Field, value: Any, path: str, *, length_unit: str = "chars",
                form: bool = False, allow_unknown: bool = False) -> list[str]:
    if not type_ok(f.type, value, form=form):
        return [f"{path}: expected {f.type}, got {json_type_name(value)}"]
    if is_empty(value):
        return [f"{path}: must not be empty"] if f.must else []
    problems: list[str] = []
    if f.enum is not None and enum_key(value) not in f.enum:
        problems.append(f"{path}: not one of {', '.join(f.enum)}")
    if f.max_length is not None and isinstance(value, str):
        unit = f.length_unit or length_unit
        size = len(value.encode("utf-8")) if unit == "bytes" else len(value)
        if size > f.max_length:
            problems.append(f"{path}: longer than {f.max_length} "
                            f"{'bytes' if unit == 'bytes' else 'characters'}")
    if f.format and isinstance(value, str) and is_checkable_format(f.format) \
            and not format_matches(f.format, value):
        problems.append(f"{path}: not in format {f.format}")
    if f.type == "object" and f.fields:
        problems += check_fields(f.fields, value, prefix=path + ".", length_unit=length_unit,
                                 form=form, allow_unknown=allow_unknown)
    if f.type == "list" and f.fields:
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                problems.append(f"{path}[{i}]: expected object, got {json_type_name(item)}")
                continue
            problems += check_fields(f.fields, item, prefix=f"{path}[{i}].",
                                     length_unit=length_unit, form=form,
                                     allow_unknown=allow_unknown)
    return problems


def check_request(endpoint: Endpoint, body: Mapping[str, Any], *, form: bool = False) -> list[str]:
    """Every problem of a request body against the endpoint's ``request`` table."""
    return check_fields(endpoint.request, body, length_unit=endpoint.length_unit, form=form)
