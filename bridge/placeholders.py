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


def _reader(expr: str) -> Callable[[dict[str, Any]], Any]:
    expr = expr.strip()
    head, _, rest = expr.partition(".")
    if head in NAMESPACES:
        ns, path = head, (Path(rest) if rest else None)
    else:
        ns, path = "body", Path(expr)

    if path is None:
        return lambda spaces: spaces[ns]
    return lambda spaces: path.get(spaces[ns])


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
    pieces: list[str | Callable[[dict[str, Any]], Any]] = []
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

    if not any(callable(p) for p in pieces):
        literal = "".join(p for p in pieces if isinstance(p, str))
        return lambda msg: literal
    if len(pieces) == 1:
        read = pieces[0]
        assert callable(read)

        def single(msg: Message) -> Any:
            value = read(msg.namespaces())
            return "" if value is MISSING else value
        return single

    def joined(msg: Message) -> str:
        spaces = msg.namespaces()
        return "".join(p if isinstance(p, str) else fmt(p(spaces)) for p in pieces)
    return joined


def compile_tree(template: Any) -> Render:
    """Compile a template tree: string leaves may hold placeholders; keys are literal."""
    if isinstance(template, str):
        return compile_string(template)
    if isinstance(template, dict):
        items = [(k, compile_tree(v)) for k, v in template.items()]
        return lambda msg: {k: r(msg) for k, r in items}
    if isinstance(template, list):
        parts = [compile_tree(v) for v in template]
        return lambda msg: [r(msg) for r in parts]
    return lambda msg: template
