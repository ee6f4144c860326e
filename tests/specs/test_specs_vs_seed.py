"""Every transcribed spec (transforms/specs/) is held against the seed document it cites.

The specs are the oracle the simulators and `validate: {spec: ...}` use, so a name that is not in
the seed would make the oracle wrong in the same way as the code it checks. This test reads only
the specs and the seeds: every field name, every enum value and the section title must occur in
the seed's text, and the file must have the documented shape (transforms/specs/README.md).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "transforms" / "specs"
#: the vendor documents, kept in the repository so a clone tests on its own; checked below to be
#: byte-identical to the project's shared copy (../shared/seeds) wherever that copy is present
SEEDS = SPECS / "seeds"
SHARED_SEEDS = ROOT.parent / "shared" / "seeds"

TYPES = {"string", "integer", "number", "boolean", "object", "list", "date", "datetime"}
FORMATS = {"json", "xml", "soap", "form"}
FIELD_KEYS = {"name", "type", "required", "when", "max_length", "length_unit", "format", "enum",
              "description", "fields"}
FILE_KEYS = {"seed", "section", "operation", "transport", "charset", "length_unit", "request",
             "response", "success", "failure", "notes"}

SPEC_FILES = sorted(p for p in SPECS.rglob("*.yaml") if SEEDS not in p.parents)


def _squash(text: str) -> str:
    """Seed text with all whitespace removed: PDF extraction breaks names across lines."""
    return re.sub(r"\s+", "", text)


_seed_cache: dict[str, str] = {}


def seed_text(name: str) -> str:
    if name not in _seed_cache:
        _seed_cache[name] = _squash((SEEDS / name).read_text(encoding="utf-8"))
    return _seed_cache[name]


def walk(fields: list[dict[str, Any]], where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for f in fields:
        path = f"{where}.{f.get('name')}"
        yield path, f
        yield from walk(f.get("fields") or [], path)


def test_the_kept_seeds_are_the_shared_ones() -> None:
    kept = sorted(p.name for p in SEEDS.iterdir())
    assert len([k for k in kept if k.endswith(".txt")]) == 5, kept
    if not SHARED_SEEDS.is_dir():
        pytest.skip("no ../shared/seeds beside this checkout to compare with")
    for name in kept:
        assert (SEEDS / name).read_bytes() == (SHARED_SEEDS / name).read_bytes(), (
            f"{name} differs from ../shared/seeds: copy the shared one into transforms/specs/seeds")


def test_there_are_specs() -> None:
    assert SEEDS.is_dir(), f"seeds not found at {SEEDS}"
    assert len(SPEC_FILES) >= 5


@pytest.mark.parametrize("spec_file", SPEC_FILES, ids=lambda p: str(p.relative_to(SPECS)))
def test_spec_matches_seed(spec_file: Path) -> None:
    spec = yaml.safe_load(spec_file.read_text(encoding="utf-8"))
    problems: list[str] = []
    unknown = set(spec) - FILE_KEYS
    if unknown:
        problems.append(f"unknown top-level keys {sorted(unknown)}")
    seed = spec.get("seed", "")
    if not (SEEDS / seed).is_file():
        pytest.fail(f"seed {seed!r} is not a file in {SEEDS}")
    text = seed_text(seed)
    for key in ("section", "operation"):
        value = str(spec.get(key, ""))
        if not value or _squash(value) not in text:
            problems.append(f"{key} {value!r} does not occur in {seed}")
    transport = spec.get("transport") or {}
    if transport.get("format") not in FORMATS:
        problems.append(f"transport.format {transport.get('format')!r} not in {sorted(FORMATS)}")
    if spec.get("length_unit", "chars") not in ("bytes", "chars"):
        problems.append("length_unit must be bytes or chars")
    for part in ("request", "response"):
        for path, f in walk(spec.get(part) or [], part):
            bad = set(f) - FIELD_KEYS
            if bad:
                problems.append(f"{path}: unknown keys {sorted(bad)}")
            name = str(f.get("name", ""))
            if not name or _squash(name) not in text:
                problems.append(f"{path}: name {name!r} does not occur in {seed}")
            if f.get("type") not in TYPES:
                problems.append(f"{path}: type {f.get('type')!r} not in {sorted(TYPES)}")
            if f.get("required") not in (True, False, "conditional"):
                problems.append(f"{path}: required must be true, false or conditional")
            if f.get("required") == "conditional" and not f.get("when"):
                problems.append(f"{path}: conditional without when")
            ml = f.get("max_length")
            if ml is not None and (not isinstance(ml, int) or ml <= 0):
                problems.append(f"{path}: max_length {ml!r} is not a positive integer")
            if f.get("length_unit", "chars") not in ("bytes", "chars"):
                problems.append(f"{path}: length_unit must be bytes or chars")
            for value in (f.get("enum") or {}):
                if _squash(str(value)) not in text:
                    problems.append(f"{path}: enum value {value!r} does not occur in {seed}")
    assert not problems, "\n".join(problems)
