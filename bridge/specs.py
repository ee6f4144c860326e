"""Vendor specs as data (DESIGN §6): the tables under ``transforms/specs/<system>/`` as checkers.

A spec file (format: ``transforms/specs/README.md``) lists, for one operation of one vendor
document, the request and response fields with type, required, maximum length and its unit
(bytes — the seeds' 长度（字节） — or characters), enum values and date formats. ``load_part``
turns one part of one file into a ``SpecCheck`` compiled once at config load; calling it on a
body tree returns every problem at once, each naming the field by its path as the document
names it (the caller's own names when the step runs before any rename) and never its value.

A body decoded from XML holds strings only, so types are checked by what a string may carry:
``integer`` is an int or a string of digits, ``number`` a number or a numeric string,
``boolean`` a bool or true/false/0/1. A ``list`` field accepts one object where the XML had
one element. ``required: conditional`` fields (门诊必填 …) are checked for type and length when
present; their condition is free text and is the route's to enforce.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

#: A spec reference in routes.yaml: ``<system>/<file stem>.<request|response>``.
_REF = re.compile(r"^(?P<file>[\w.\-/]+)\.(?P<part>request|response)$")

_INT = re.compile(r"-?\d+")
_NUM = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_BOOL = frozenset({"true", "false", "0", "1"})

#: seed date patterns -> strptime; only patterns that can be checked unambiguously
_DATE_TOKENS = (("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("hh", "%H"),
                ("mm", "%M"), ("ss", "%S"), ("SS", "%S"))


def strptime_pattern(fmt: str) -> str | None:
    """``yyyy-MM-dd HH:mm:ss`` -> ``%Y-%m-%d %H:%M:%S``; None for a pattern not made only of
    date tokens and separators (free text such as ``HH:mm，如08:30``)."""
    out = fmt
    for token, directive in _DATE_TOKENS:
        out = out.replace(token, directive)
    rest = re.sub(r"%[YmdHMS]", "", out)
    if "%" not in out or re.search(r"[^\-/: T.]", rest):
        return None
    return out


@dataclass(frozen=True)
class Field:
    name: str                  # as the document (and so the caller) names it: what errors say
    key: str                   # where it is in the body: the name, or what a rename made of it
    type: str
    required: bool | str
    max_length: int | None
    unit: str
    enum: frozenset[str] | None
    date: str | None
    fields: tuple["Field", ...]
    plain: bool                # a text leaf: checked inline, without a call per field


def _field(raw: dict[str, Any], unit: str, renamed: Mapping[str, str]) -> Field:
    enum = raw.get("enum")
    fmt = raw.get("format")
    name = str(raw["name"])
    kind = str(raw.get("type", "string"))
    children = tuple(_field(f, unit, renamed) for f in raw.get("fields") or ())
    return Field(
        name=name,
        key=renamed.get(name, name),
        type=kind,
        required=raw.get("required", False),
        max_length=raw.get("max_length"),
        unit=str(raw.get("length_unit", unit)),
        enum=frozenset(str(k) for k in enum) if isinstance(enum, dict) and enum else None,
        date=strptime_pattern(str(fmt)) if fmt else None,
        fields=children,
        plain=kind in ("string", "date", "datetime") and not children,
    )


def specs_dirs(base_dir: Path) -> list[Path]:
    """Where spec files are looked up: ``transforms/specs`` beside routes.yaml, then under the
    working directory (the image's ``/app``, where transforms/ is baked in while routes.yaml
    may come from a mounted ConfigMap)."""
    dirs = [base_dir / "transforms" / "specs"]
    cwd = Path.cwd() / "transforms" / "specs"
    if cwd not in dirs:
        dirs.append(cwd)
    return dirs


def spec_file(ref: str, base_dir: Path) -> tuple[Path, str]:
    """``registration/confirmRegistration.request`` -> (its file, ``request``)."""
    m = _REF.match(ref)
    if m is None:
        raise ValueError(f"spec {ref!r}: expected <system>/<operation>.request or .response")
    tried = [d / f"{m.group('file')}.yaml" for d in specs_dirs(base_dir)]
    for path in tried:
        if path.is_file():
            return path, m.group("part")
    raise ValueError(f"spec {ref!r}: no file {' or '.join(map(str, tried))}")


def load_part(ref: str, base_dir: Path, *, charset: str = "utf-8",
              renamed: Mapping[str, str] | None = None) -> "SpecCheck":
    """``renamed``: old -> new names of a rename that ran before the check (a glossary): the
    body holds the new names, problems still name the document's (the caller's) ones."""
    path, part = spec_file(ref, base_dir)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"spec {ref!r}: cannot read {path}: {exc}") from None
    unit = str(doc.get("length_unit", "chars"))
    fields = tuple(_field(f, unit, renamed or {}) for f in doc.get(part) or ())
    return SpecCheck(ref, fields, charset)


class SpecCheck:
    """Checks a body tree against one part of a spec; ``__call__`` returns (path, problem)s."""

    __slots__ = ("ref", "fields", "charset", "unknown", "_known")

    def __init__(self, ref: str, fields: tuple[Field, ...], charset: str, *,
                 unknown: bool = False) -> None:
        self.ref, self.fields, self.charset, self.unknown = ref, fields, charset, unknown
        # the keys each level of the document defines, computed once, not per request
        self._known: dict[int, frozenset[str]] = {}

        def index(level: tuple[Field, ...]) -> None:
            self._known[id(level)] = frozenset(f.key for f in level)
            for f in level:
                if f.fields:
                    index(f.fields)
        index(fields)

    def __call__(self, body: Any) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        self._object(body if isinstance(body, dict) else {}, self.fields, "", problems)
        return problems

    def _object(self, obj: dict[str, Any], fields: tuple[Field, ...], prefix: str,
                problems: list[tuple[str, str]]) -> None:
        for f in fields:
            value = obj.get(f.key)
            if value.__class__ is str:
                if not value:
                    if f.required is True:
                        problems.append((prefix + f.name, "required"))
                    continue
                if f.plain and f.date is None:
                    # the common case, inline (this runs per request): a text leaf with at most
                    # an enum and a length
                    if f.enum is not None and value not in f.enum:
                        self._value(value, f, prefix + f.name, problems)
                    elif f.max_length is not None and len(value) > (
                            f.max_length if f.unit != "bytes" else f.max_length // 4):
                        self._value(value, f, prefix + f.name, problems)
                    continue
            elif _empty(value):
                if f.required is True:
                    problems.append((prefix + f.name, "required"))
                continue
            self._value(value, f, prefix + f.name, problems)
        if self.unknown:
            known = self._known[id(fields)]
            for key in obj:
                if key not in known and not str(key).startswith("@"):
                    problems.append((prefix + str(key), "not a field of this document"))

    def _value(self, value: Any, f: Field, path: str, problems: list[tuple[str, str]]) -> None:
        if f.type == "list":
            items = value if isinstance(value, list) else [value]
            for i, item in enumerate(items):
                if f.fields:
                    if not isinstance(item, dict):
                        problems.append((f"{path}.{i}", "expected an element with fields"))
                    else:
                        self._object(item, f.fields, f"{path}.{i}.", problems)
            return
        if f.type == "object" or f.fields:
            if not isinstance(value, dict):
                problems.append((path, "expected an element with fields"))
            else:
                self._object(value, f.fields, path + ".", problems)
            return
        why = _TYPES.get(f.type, _any)(value)
        if why is not None:
            problems.append((path, why))
            return
        text = _text(value)
        if f.enum is not None and text not in f.enum:
            allowed = ", ".join(sorted(f.enum)) if len(f.enum) <= 12 else f"{len(f.enum)} codes"
            problems.append((path, f"not one of the allowed values ({allowed})"))
        if f.date is not None:
            try:
                dt.datetime.strptime(text, f.date)
            except ValueError:
                problems.append((path, f"not a date/time in the form {_unparse(f.date)}"))
        if f.max_length is not None:
            if f.unit == "bytes":
                size = len(text.encode(self.charset, "replace"))
                if size > f.max_length:
                    problems.append((path, f"longer than {f.max_length} bytes ({self.charset}): {size}"))
            elif len(text) > f.max_length:
                problems.append((path, f"longer than {f.max_length} characters: {len(text)}"))


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _unparse(pattern: str) -> str:
    for token, directive in _DATE_TOKENS[::-1]:
        pattern = pattern.replace(directive, token)
    return pattern


def _string(value: Any) -> str | None:
    return None if isinstance(value, (str, int, float)) and not isinstance(value, bool) else "expected text"


def _integer(value: Any) -> str | None:
    if isinstance(value, bool):
        return "expected an integer"
    if isinstance(value, int) or (isinstance(value, str) and _INT.fullmatch(value.strip())):
        return None
    return "expected an integer"


def _number(value: Any) -> str | None:
    if isinstance(value, bool):
        return "expected a number"
    if isinstance(value, (int, float)) or (isinstance(value, str) and _NUM.fullmatch(value.strip())):
        return None
    return "expected a number"


def _boolean(value: Any) -> str | None:
    if isinstance(value, bool) or (isinstance(value, str) and value.strip().lower() in _BOOL):
        return None
    return "expected true or false"


def _any(value: Any) -> str | None:
    return None


_TYPES: dict[str, Callable[[Any], str | None]] = {
    "string": _string, "date": _string, "datetime": _string,
    "integer": _integer, "number": _number, "boolean": _boolean,
}
