"""Generate docs/steps.md from the step registry: the models and examples are the source.

    python -m bridge.docs            # rewrite docs/steps.md
    python -m bridge.docs --check    # exit 1 if docs/steps.md is stale (the test suite runs this)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from bridge.registry import load_builtin_steps

DOC = Path(__file__).resolve().parent.parent / "docs" / "steps.md"


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False, default_flow_style=None,
                          width=100).rstrip()


def render() -> str:
    steps = load_builtin_steps()
    out = ["# Pipeline steps", "",
           "Generated from the step registry by `python -m bridge.docs`; do not edit by hand.",
           "Every example below runs as a test (tests/steps/test_examples.py).", "",
           "A step is written `- name: config` in a route's `pipeline:` or `reply.pipeline:`.",
           "Paths are dotted keys (`WorkInfo.Record.WorkId`); lists met on the way are traversed.",
           "Placeholders `{...}` read `body` (default), `request`, `error`, `meta`, `secrets`.", "",
           "| step | what it does |", "|---|---|"]
    for name, spec in sorted(steps.items()):
        out.append(f"| [`{name}`](#{name}) | {spec.summary} |")
    for name, spec in sorted(steps.items()):
        out += ["", f"## {name}", "", spec.summary, ""]
        for ex in spec.examples:
            title = ex.title or "example"
            out += [f"**{title}**", "", "```yaml", _yaml([{name: ex.config}]), "```", ""]
            out += ["input:", "", "```yaml", _yaml(ex.input), "```", ""]
            for target, reply in ex.replies.items():
                out += [f"`{target}` answers:", "", "```yaml", _yaml(reply), "```", ""]
            if ex.error:
                out += [f"fails with `{ex.error}`.", ""]
            else:
                out += ["output:", "", "```yaml", _yaml(ex.output), "```", ""]
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not DOC.exists() or DOC.read_text(encoding="utf-8") != text:
            print(f"{DOC} is stale: run python -m bridge.docs", file=sys.stderr)
            return 1
        return 0
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
