"""What an XSD tells the bridge about a body tree: which elements are lists, which leaves are typed.

XML carries only strings and cannot say "this element repeats" when it occurs once; a schema
can. DESIGN §2: an element whose XSD says maxOccurs > 1 is a list even when it occurs once or
zero times, so the inbound decoder of a route that validates against an XSD takes its list paths
from here (``schema_lists``), and the ``validate`` step gives numeric and boolean leaves their
types (``leaf_types``).

Schemas are loaded sandboxed (no network, no file outside the schema's folder, defused XML) and
cached by path and modification time, so a config reload after an edit sees the new schema.
xmlschema is imported on first use: configs without an XSD do not pay for it at startup.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path as FsPath
from typing import Any, Callable, Iterator, Mapping

#: Steps that keep the shape of the inbound tree: an XSD validated before any other step
#: describes the document as received.
SHAPE_KEEPING = frozenset({"validate", "require", "coerce", "date", "decrypt", "encrypt", "hash",
                           "map_values"})
_MAX_DEPTH = 64  # recursive schemas (a Node containing Nodes) stop here


def load_schema(path: FsPath | str) -> Any:
    """The compiled schema; ValueError (a config error) if it is missing or invalid."""
    p = FsPath(path).resolve()
    try:
        stamp = p.stat().st_mtime_ns
    except OSError:
        raise ValueError(f"XSD file not found: {path}") from None
    return _load(str(p), stamp)


@lru_cache(maxsize=64)
def _load(path: str, stamp: int) -> Any:
    import warnings

    import xmlschema

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", xmlschema.XMLSchemaImportWarning)
            schema = xmlschema.XMLSchema(path, allow="sandbox", defuse="always")
    except Exception as exc:  # xmlschema raises many kinds: parse, model, resource errors
        reason = getattr(exc, "reason", None) or getattr(exc, "message", None) or str(exc)
        first = str(reason).strip().splitlines()[0] if str(reason).strip() else type(exc).__name__
        raise ValueError(f"invalid XSD {path}: {first}") from None
    for w in caught:
        if issubclass(w.category, xmlschema.XMLSchemaImportWarning):
            # An import or include that was blocked (network, outside the folder) or missing:
            # validating against half a schema would reject good documents in confusing ways.
            raise ValueError(f"invalid XSD {path}: {w.message}")
    return schema


def root_element(schema: Any, root: str) -> Any:
    """The global element ``root``; ValueError naming the ones the schema has."""
    for name, el in schema.elements.items():
        if el.local_name == root or name == root:
            return el
    have = ", ".join(sorted(e.local_name for e in schema.elements.values())) or "none"
    raise ValueError(f"the XSD has no global element {root!r} (it has: {have})")


def _children(el: Any) -> Iterator[tuple[Any, bool]]:
    """(child element declaration, repeats?) for an element's complex content.

    A child repeats if its own maxOccurs > 1, if a group around it may repeat, or if the same
    name appears twice in the content model.
    """
    from xmlschema.validators import XsdElement, XsdGroup

    xsd_type = el.type
    if xsd_type.is_simple() or xsd_type.has_simple_content():
        return
    content = xsd_type.content
    if not isinstance(content, XsdGroup):
        return
    found: list[tuple[Any, bool]] = []

    def walk(group: Any, repeated: bool) -> None:
        rep = repeated or group.max_occurs is None or group.max_occurs > 1
        for item in group:
            if isinstance(item, XsdGroup):
                walk(item, rep)
            elif isinstance(item, XsdElement):
                found.append((item, rep or item.max_occurs is None or item.max_occurs > 1))
    walk(content, False)
    counts: dict[str, int] = {}
    for item, _ in found:
        counts[item.local_name] = counts.get(item.local_name, 0) + 1
    seen: set[str] = set()
    for item, rep in found:
        if item.local_name in seen:
            continue
        seen.add(item.local_name)
        yield item, rep or counts[item.local_name] > 1


def _walk(el: Any, prefix: str, depth: int, stack: tuple[int, ...]) -> Iterator[tuple[str, Any, bool]]:
    """(dotted path, element declaration, repeats?) for every element below ``el``."""
    if depth > _MAX_DEPTH or id(el.type) in stack:
        return
    inner = stack + (id(el.type),)
    for child, rep in _children(el):
        path = f"{prefix}.{child.local_name}" if prefix else child.local_name
        yield path, child, rep
        yield from _walk(child, path, depth + 1, inner)


def list_paths(xsd_path: FsPath | str, root: str) -> list[str]:
    """Dotted paths below ``root`` of every element that may repeat (``WorkInfo.Record``)."""
    return repeating(load_schema(xsd_path), root)


def repeating(schema: Any, root: str) -> list[str]:
    """``list_paths`` of an already loaded schema."""
    return [path for path, _, rep in _walk(root_element(schema, root), "", 0, ()) if rep]


Convert = Callable[[Any], Any]


def _to_bool(v: Any) -> Any:
    if isinstance(v, bool):
        return v
    text = str(v).strip()
    return True if text in ("true", "1") else False if text in ("false", "0") else v


def _to_int(v: Any) -> Any:
    if isinstance(v, (bool, int)):
        return v
    try:
        return int(str(v).strip())
    except ValueError:
        return v


def _to_float(v: Any) -> Any:
    if isinstance(v, bool):
        return v
    try:
        f = float(Decimal(str(v).strip())) if not isinstance(v, (int, float)) else float(v)
    except ArithmeticError:
        try:
            f = float(str(v).strip())  # xs:double lexical forms Decimal does not read (1E3 is fine)
        except ValueError:
            return v
    return f if f == f and f not in (float("inf"), float("-inf")) else v  # JSON has no NaN/INF


def _converter(xsd_type: Any) -> Convert | None:
    """int/float/bool converter for a simple type derived from a numeric or boolean builtin."""
    from xmlschema.validators import XsdAtomicBuiltin

    t = xsd_type
    while t is not None and not isinstance(t, XsdAtomicBuiltin):
        t = getattr(t, "base_type", None)
    if t is None:
        return None  # lists, unions: left as strings
    py = t.python_type
    if py is bool:
        return _to_bool
    if py is int:
        return _to_int
    if py in (float, Decimal):
        return _to_float
    return None


def leaf_types(schema: Any, root: str) -> dict[str, Convert]:
    """Dotted path (``Record.Count``, ``Record.@seq``, ``Item.#text``) -> converter, for every
    leaf or attribute whose XSD type is numeric or boolean."""
    out: dict[str, Convert] = {}

    def attributes(el: Any, prefix: str) -> None:
        attrs: Mapping[str, Any] = getattr(el.type, "attributes", {}) or {}
        for name, attr in attrs.items():
            if name is None or attr.type is None:
                continue
            conv = _converter(attr.type)
            if conv is not None:
                local = name[name.index("}") + 1:] if name.startswith("{") else name
                out[f"{prefix}.@{local}" if prefix else f"@{local}"] = conv

    top = root_element(schema, root)
    attributes(top, "")
    for path, el, _ in _walk(top, "", 0, ()):
        xsd_type = el.type
        attributes(el, path)
        if xsd_type.is_simple():
            conv = _converter(xsd_type)
        elif xsd_type.has_simple_content():
            conv = _converter(xsd_type.content)
            if conv is not None:
                out[f"{path}.#text"] = conv
        else:
            conv = None
        if conv is not None:
            out[path] = conv
    return out


def schema_lists(pipeline: list[Any], inbound: Any, resolve: Callable[[str], FsPath]) -> list[str]:
    """List paths declared by the XSDs a route validates its inbound document against.

    Only ``validate: {xsd: ...}`` steps met before any reshaping step count (an XSD checked after
    a rename describes another tree). The root is the step's ``root:``, else the route's
    ``match`` (root element, or SOAP operation when the body is not a document carried in a
    parameter), else the schema's only global element. Problems
    loading the schema are reported by the step itself, so they are ignored here.
    """
    match = inbound.match
    default_root = None
    if match is not None and not (inbound.soap and inbound.soap.param):
        default_root = match.root or match.operation  # else: a document inside a parameter
    paths: list[str] = []
    for item in pipeline:
        if not isinstance(item, dict) or len(item) != 1:
            break
        (name, raw), = item.items()
        if name not in SHAPE_KEEPING:
            break
        if name != "validate" or not isinstance(raw, dict) or not raw.get("xsd"):
            continue
        try:
            schema = load_schema(resolve(str(raw["xsd"])))
            root = raw.get("root") or default_root
            if root is None and len(schema.elements) == 1:
                root = next(iter(schema.elements.values())).local_name
            if root is None:
                continue
            paths += [p for p in list_paths(resolve(str(raw["xsd"])), root) if p not in paths]
        except ValueError:
            continue
    return paths
