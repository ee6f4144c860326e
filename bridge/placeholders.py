"""``{...}`` placeholders in templates, compiled once at config load.

``{data.code}`` reads the body (``{body.data.code}``); the other namespaces are ``request``,
``error``, ``meta`` and ``secrets`` (DESIGN §3). A string that is exactly one placeholder keeps the
value's type (a list stays a list); otherwise values are formatted into the string. A missing
value renders as the empty string. ``{{`` and ``}}`` are literal braces.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from bridge.message import Message
from bridge.paths import MISSING, Path

NAMESPACES = ("body", "request", "error", "meta", "secrets")
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]+)\}")

Render = Callable[[Message], Any]


Spaces = dict[str, Any]
#: A compiled piece of a template: renders against the namespaces (Message.namespaces()).
Part = Callable[[Spaces], Any]


class PlaceholderMissing(Exception):
    """A ``{path!}`` placeholder found nothing; the pipeline turns it into the error of its side
    (422 on the request side, upstream_error on the reply side)."""

    def __init__(self, expr: str) -> None:
        super().__init__(expr)
        self.expr = expr


#: meta key under which a message collects the placeholders that found nothing
MISSES = "_placeholder_misses"


def _reader(expr: str) -> Part:
    expr = expr.strip()
    required = expr.endswith("!")
    if required:
        expr = expr[:-1].rstrip()
    head, _, rest = expr.partition(".")
    if head in NAMESPACES:
        ns, path = head, (Path(rest) if rest else None)
    else:
        ns, path = "body", Path(expr)

    if path is None:
        return lambda spaces: spaces[ns]
    get = path.get

    def read(spaces: Spaces) -> Any:
        value = get(spaces[ns])
        if value is MISSING:
            if required:
                raise PlaceholderMissing(expr)
            spaces.setdefault(MISSES, []).append(expr)
        return value
    return read


def fmt(value: Any) -> str:
    """How a value reads inside a string."""
    if value is MISSING or value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def has_placeholders(text: str) -> bool:
    return any(m.group(1) for m in _TOKEN.finditer(text))


def compile_string(text: str) -> Render:
    """A callable that renders ``text`` against a message."""
    return _on_message(_string(text))


def compile_tree(template: Any) -> Render:
    """Compile a template tree: string leaves may hold placeholders; keys are literal."""
    return _on_message(_tree(template))


def _on_message(part: Part) -> Render:
    """The namespaces are gathered once per rendering, not once per string in the tree. The
    placeholders that found nothing are noted on the message (``meta[MISSES]``) for the
    pipeline to count and log; a rendering that is exactly one missing placeholder is MISSING."""
    if getattr(part, "literal", False):
        value = part({})
        return lambda msg: value

    def render(msg: Any) -> Any:
        spaces = msg.namespaces()
        value = part(spaces)
        misses = spaces.get(MISSES)
        if misses:
            msg.meta.setdefault(MISSES, []).extend(misses)
        return value
    return render


def _literal(value: Any) -> Part:
    def part(spaces: Spaces) -> Any:
        return value
    part.literal = True  # type: ignore[attr-defined]
    return part


def _string(text: str) -> Part:
    pieces: list[str | Part] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        if m.start() > pos:
            pieces.append(text[pos:m.start()])
        tok = m.group(0)
        if tok == "{{":
            pieces.append("{")
        elif tok == "}}":
            pieces.append("}")
        else:
            pieces.append(_reader(m.group(1)))
        pos = m.end()
    if pos < len(text):
        pieces.append(text[pos:])

    readers = [p for p in pieces if callable(p)]
    if not readers:
        return _literal("".join(p for p in pieces if isinstance(p, str)))
    if len(pieces) == 1:
        return readers[0]       # exactly one placeholder: its value, typed, or MISSING
    # literals and readers as one str.format call: "referralCode={}&type={}"
    pattern = "".join(p.replace("{", "{{").replace("}", "}}") if isinstance(p, str) else "{}"
                      for p in pieces)
    if len(readers) == 1:
        only = readers[0]
        return lambda spaces: pattern.format(fmt(only(spaces)))
    if len(readers) == 2:
        first, second = readers
        return lambda spaces: pattern.format(fmt(first(spaces)), fmt(second(spaces)))
    return lambda spaces: pattern.format(*[fmt(r(spaces)) for r in readers])


def _tree(template: Any) -> Part:
    """A value that is exactly one placeholder finding nothing is left out of its dict or list:
    no empty element, no fake list item (DESIGN §3)."""
    if isinstance(template, str):
        return _string(template)
    if isinstance(template, dict):
        items = [(k, _tree(v)) for k, v in template.items()]

        def mapping(spaces: Spaces) -> dict[str, Any]:   # a new dict every time
            out = {}
            for k, r in items:
                value = r(spaces)
                if value is not MISSING:
                    out[k] = value
            return out
        return mapping
    if isinstance(template, list):
        parts = [_tree(v) for v in template]
        return lambda spaces: [v for v in (r(spaces) for r in parts) if v is not MISSING]
    return _literal(template)

