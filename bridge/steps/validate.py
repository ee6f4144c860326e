"""``validate``: check the body against a vendor spec, an XSD or a JSON Schema, answering 422
with every problem.

With ``spec`` (DESIGN §6), the body is checked against one part of a transcribed vendor table
(``transforms/specs/<system>/<operation>.yaml``, see bridge.specs): required fields, types,
lengths in bytes (in ``charset``) or characters as the seed counts them, enums and date formats,
every failing field named by its path as the document names it and never with its value. Put it
before any rename so a pinyin caller hears ``ysgh``, not ``doctor_code``.

Schemas are loaded and compiled when the config loads (a missing or invalid schema is a config
error), never per request. All errors are collected into one ValidationFailed, each named by its
path in the body (``WorkInfo.Record.1.Count``, or ``$.data.age`` for JSON Schema), so a caller
fixes everything in one round trip.

With ``xsd``, the body is encoded as the XML document ``root`` (default: the root element the
caller sent) in the schema's target namespace and validated; afterwards leaves and attributes
whose XSD type is numeric or boolean become int, float or bool, the way a JSON target expects
them. The same XSD declares the route's inbound lists (bridge.xsd.schema_lists).
"""

from __future__ import annotations

import re
from typing import Any, Literal

import orjson
from pydantic import Field, model_validator

from bridge.codecs.xmltree import tree_to_element
from bridge.errors import StepFailed, ValidationFailed
from bridge.message import Message
from bridge.paths import Path
from bridge.registry import BuildContext, Example, StepConfig, register_step
from bridge.specs import SpecCheck, load_part
from bridge.steps._common import each_scalar, is_empty
from bridge.types import Step
from bridge.xsd import Convert, leaf_types, load_schema, repeating, root_element

_INDEXED = re.compile(r"^(.*)\[(\d+)\]$")

class ValidateConfig(StepConfig):
    spec: str | None = Field(None, description=(
        "a vendor spec part: <system>/<operation>.request or .response, a file under "
        "transforms/specs/ beside routes.yaml (DESIGN §6)"))
    charset: str = Field("utf-8", description=(
        "spec: the charset in which lengths the seed gives in bytes (长度（字节）) are counted"))
    unknown: Literal["ignore", "error"] = Field("ignore", description=(
        "spec: fields the document does not define are ignored, or each one is a problem"))
    glossary: str | None = Field(None, description=(
        "spec: the glossary a `rename` before this step applied; the renamed body is checked, "
        "problems still name the fields as the document (the caller) names them"))
    xsd: str | None = Field(None, description="XML Schema file (relative to routes.yaml)")
    root: str | None = Field(None, description=(
        "xsd: root element the body is validated as (default: the root the caller sent)"))
    json_schema: str | None = Field(None, description="JSON Schema file, Draft 2020-12")

    @model_validator(mode="after")
    def _one(self) -> "ValidateConfig":
        if sum(x is not None for x in (self.spec, self.xsd, self.json_schema)) != 1:
            raise ValueError("give exactly one of spec, xsd or json_schema")
        try:
            "".encode(self.charset)
        except LookupError:
            raise ValueError(f"unknown charset {self.charset!r}") from None
        if self.root is not None and self.xsd is None:
            raise ValueError("root applies to xsd only")
        if self.glossary is not None and self.spec is None:
            raise ValueError("glossary applies to spec only")
        return self

def _fail(problems: list[tuple[str, str]], spec: str | None = None) -> ValidationFailed:
    lines = [f"{where}: {why}" for where, why in problems[:10]]
    if len(problems) > 10:
        lines.append(f"and {len(problems) - 10} more")
    head = f"validate ({spec})" if spec else "validate"
    return ValidationFailed(f"{head}: {len(problems)} problem(s): " + "; ".join(lines),
                            detail={"errors": [{"path": w, "message": m} for w, m in problems]})

def dotted(xpath: str, root: str, lists: frozenset[str] = frozenset()) -> str:
    """``/Request/WorkInfo/Record[2]/Count`` -> ``WorkInfo.Record.1.Count`` (0-based, as
    ``require`` names list items; a lone item of an XSD list is ``.0``); problems of the root
    itself are named by the root."""
    parts = [p for p in xpath.split("/") if p][1:]
    out: list[str] = []
    names: list[str] = []
    for part in parts:
        part = part[part.index("}") + 1:] if part.startswith("{") else part
        part = part.split(":", 1)[-1]
        m = _INDEXED.match(part)
        name, index = (m.group(1), str(int(m.group(2)) - 1)) if m else (part, None)
        names.append(name)
        if index is None and ".".join(names) in lists:
            index = "0"
        out += [name, index] if index is not None else [name]
    return ".".join(out) or root


class XsdValidate:
    __slots__ = ("schema", "root", "namespace", "roots", "resource")

    def __init__(self, schema: Any, root: str | None) -> None:
        from xmlschema import XMLResource

        self.resource = XMLResource
        self.schema = schema
        self.root = root
        self.namespace: str | None = schema.target_namespace or None
        # root name -> (typed leaves, list paths); one entry per root met, bounded by the schema
        self.roots: dict[str, tuple[list[tuple[Path, Convert]], frozenset[str]]] = {}
        if root is not None:
            self._shape(root)

    def _shape(self, root: str) -> tuple[list[tuple[Path, Convert]], frozenset[str]]:
        found = self.roots.get(root)
        if found is None:
            types = [(Path(p), each_scalar(c)) for p, c in leaf_types(self.schema, root).items()]
            found = self.roots[root] = (types, frozenset(repeating(self.schema, root)))
        return found

    def __call__(self, msg: Message) -> Message:
        root = self.root or msg.meta.get("root")
        if not root:
            raise StepFailed("validate: no root element to validate the body as; set root:")
        try:
            root_element(self.schema, root)
        except ValueError as exc:
            raise ValidationFailed(f"validate: {exc}") from None
        body = {} if is_empty(msg.body) else msg.body
        if not isinstance(body, dict):
            raise ValidationFailed(f"validate: <{root}>: the body is not a document")
        types, lists = self._shape(root)
        element = tree_to_element(body, root, self.namespace)
        problems = [(dotted(err.path or "", root, lists), str(err.reason or err.message).strip())
                    for err in self.schema.iter_errors(self.resource(element, allow="none"))]
        if problems:
            raise _fail(problems)
        for path, convert in types:
            path.update(body, convert)
        msg.body = body
        return msg


class SpecValidate:
    __slots__ = ("check",)

    def __init__(self, check: SpecCheck) -> None:
        self.check = check

    def __call__(self, msg: Message) -> Message:
        problems = self.check(msg.body)
        if problems:
            raise _fail(problems, self.check.ref)
        return msg


class JsonValidate:
    __slots__ = ("validator",)

    def __init__(self, validator: Any) -> None:
        self.validator = validator

    def __call__(self, msg: Message) -> Message:
        errors = sorted(self.validator.iter_errors(msg.body), key=lambda e: list(map(str, e.path)))
        if errors:
            raise _fail([(e.json_path, e.message) for e in errors])
        return msg


def _json_validator(path: str, ctx: BuildContext) -> Any:
    from jsonschema import Draft202012Validator  # imported on first use, like xmlschema
    from jsonschema.exceptions import SchemaError

    file = ctx.resolve(path)
    try:
        schema = orjson.loads(file.read_bytes())
    except OSError:
        raise ValueError(f"JSON Schema file not found: {path}") from None
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON in {path}: {exc}") from None
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"invalid JSON Schema {path}: {exc.message}") from None
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@register_step("validate", ValidateConfig, examples=[
    Example(title="spec: a seed 001 (b) confirmRegistration request as the seed's table defines it",
            config={"spec": "registration/confirmRegistration.request"},
            input={"TransactionId": "T1", "HospitalNo": "H001", "WorkId": "W1", "Name": "张三",
                   "IDCode": "330102199001011234", "CardType": "01", "PatientNo": "P1",
                   "TelephoneNo": "13800000000", "Sex": "1", "Age": "30"},
            output={"TransactionId": "T1", "HospitalNo": "H001", "WorkId": "W1", "Name": "张三",
                    "IDCode": "330102199001011234", "CardType": "01", "PatientNo": "P1",
                    "TelephoneNo": "13800000000", "Sex": "1", "Age": "30"}),
    Example(title="spec: every failing field at once, lengths in bytes where the seed says 长度（字节）",
            config={"spec": "registration/confirmRegistration.request"},
            input={"TransactionId": "T1", "Name": "张" * 70}, error="ValidationFailed"),
    Example(title="XSD: a valid document; numeric leaves get their XSD types",
            config={"xsd": "tests/steps/data/workinfo.xsd", "root": "Request"},
            input={"TransactionId": "T1", "HospitalNo": "H1", "Count": "1", "IsMultiTimes": "0",
                   "WorkInfo": {"Record": [{"WorkId": "W1", "DoctorId": "D1",
                                            "RegistrationPrice": "12.50",
                                            "RegistrationNumber": "30"}]}},
            output={"TransactionId": "T1", "HospitalNo": "H1", "Count": 1, "IsMultiTimes": "0",
                    "WorkInfo": {"Record": [{"WorkId": "W1", "DoctorId": "D1",
                                             "RegistrationPrice": 12.5,
                                             "RegistrationNumber": 30}]}}),
    Example(title="XSD: every problem in one 422, named by path",
            config={"xsd": "tests/steps/data/workinfo.xsd", "root": "Request"},
            input={"TransactionId": "T1", "HospitalNo": "H1", "IsMultiTimes": "2",
                   "WorkInfo": {"Record": [{"WorkId": "W1", "DoctorId": "D1",
                                            "RegistrationNumber": "x"}]}},
            error="ValidationFailed"),
    Example(title="JSON Schema (Draft 2020-12)",
            config={"json_schema": "tests/steps/data/study-query.json"},
            input={"hospitalId": "H1", "studyType": 0, "phoneNum": "13800138000"},
            output={"hospitalId": "H1", "studyType": 0, "phoneNum": "13800138000"}),
    Example(title="JSON Schema: failures listed with their JSON paths",
            config={"json_schema": "tests/steps/data/study-query.json"},
            input={"studyType": 9}, error="ValidationFailed"),
])
def build(cfg: ValidateConfig, ctx: BuildContext) -> Step:
    """Validate the body against a vendor spec, an XSD or a JSON Schema; one 422 lists every
    problem with its path. With an XSD, numeric and boolean leaves then become int/float/bool,
    and elements with maxOccurs > 1 are lists on the route's inbound even when they occur once."""
    if cfg.spec is not None:
        from bridge.steps.rename import load_glossary

        renamed = load_glossary(ctx.resolve(cfg.glossary), False) if cfg.glossary else None
        check = load_part(cfg.spec, ctx.base_dir, charset=cfg.charset, renamed=renamed)
        check.unknown = cfg.unknown == "error"
        return SpecValidate(check)
    if cfg.xsd is not None:
        schema = load_schema(ctx.resolve(cfg.xsd))
        if cfg.root is not None:
            root_element(schema, cfg.root)
        return XsdValidate(schema, cfg.root)
    assert cfg.json_schema is not None
    return JsonValidate(_json_validator(cfg.json_schema, ctx))
