"""What a learner reads in a notebook: short teaching prose, no run logs, the step in view,
exercises with worked solutions, and the lesson's target read from its declaration."""

import json
import re
from pathlib import Path

import pytest

from ganlib import lessons

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
MAX_WORDS = 2000
# run-log material that belongs in docs/experiments.md, not in a lesson
LAB_LOG = re.compile(r"\b20\d\d-\d\d-\d\d\b|\bEPYC\b|\bAVX|\bXeon\b|\bin our runs\b", re.I)
ENGINEERING = re.compile(r"oneDNN|FusedAdam|replica_rows|\bXLA\b|fused kernel", re.I)


def cells(path, kind):
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]
            if c["cell_type"] == kind]


def test_every_lesson_has_its_notebook():
    names = {p.name for p in NOTEBOOKS}
    for name in lessons.names():
        assert Path(lessons.get(name).LESSON.notebook).name in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_prose_is_short_and_holds_no_run_log(path):
    markdown = cells(path, "markdown")
    words = sum(len(re.findall(r"\S+", text)) for text in markdown)
    assert words <= MAX_WORDS, f"{path.name}: {words} markdown words (at most {MAX_WORDS})"
    for text in markdown + cells(path, "code"):
        found = LAB_LOG.search(text)
        assert found is None, f"{path.name}: {found.group()!r} belongs in docs/experiments.md"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_target_is_read_not_retyped(path):
    code = "\n".join(cells(path, "code"))
    assert "expect.what_to_expect(" in code and "expect.check_target(" in code, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_family_losses_are_printed(path):
    code = "\n".join(cells(path, "code"))
    assert re.search(r"getsource\(\w+Step\.losses\)", code), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_has_a_solution(path):
    markdown = cells(path, "markdown")
    solutions = sum(text.count("**Solution**") for text in markdown)
    assert solutions >= 1, f"{path.name}: no worked solution"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_engineering_notes_wait_for_the_end(path):
    """Kernels, optimizers' internals and multi-device rows go to one "Under the hood" cell,
    the last markdown cell, or out."""
    markdown = cells(path, "markdown")
    for i, text in enumerate(markdown):
        found = ENGINEERING.search(text)
        if found and not (i == len(markdown) - 1 and "## Under the hood" in text):
            raise AssertionError(f"{path.name}: {found.group()!r} before 'Under the hood'")


def test_lesson_01_prints_the_skeleton():
    code = "\n".join(cells(NOTEBOOKS[0], "code"))
    assert "getsource(TrainStep.update)" in code and "_replica_step" not in code
