"""docs/steps.md is generated from the registry; it must match what the code says."""

from __future__ import annotations

from pathlib import Path

from bridge.docs import DOC, render


def test_steps_reference_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), "run: python -m bridge.docs"


def test_readme_names_the_two_commands() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text(encoding="utf-8")
    assert "bridge serve --with-sim" in makefile and "pytest" in makefile
