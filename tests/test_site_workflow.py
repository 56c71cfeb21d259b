"""The GitHub Pages workflow validates offline: the workflow schema and the book's own rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from utils.site import workflow as W

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / ".github" / "workflows" / "pages.yml"


def test_the_pages_workflow_is_valid():
    assert W.validate(PAGES) == []


def test_the_schema_check_catches_a_malformed_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps: not-a-list\n")
    assert W.schema_problems(bad)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda s: s.replace("branches: [main]", "branches: [dev]"), "push to main"),
        (lambda s: s.replace("  id-token: write\n", ""), "id-token"),
        (lambda s: s.replace("run: make book", "run: jupyter-book build ."), "make book"),
        (
            lambda s: s.replace("actions/deploy-pages@v4", "someone/deploy@main"),
            "actions/deploy-pages",
        ),
        (lambda s: s.replace("path: _build/html", "path: site"), "_build/html"),
        (lambda s: s + "\n# token: ${{ secrets.DEPLOY_KEY }}\n", "DEPLOY_KEY"),
    ],
)
def test_the_rules_catch_each_departure(tmp_path, edit, expected):
    wf = tmp_path / "pages.yml"
    wf.write_text(edit(PAGES.read_text()))
    problems = W.rule_problems(wf)
    assert any(expected in p for p in problems), problems


def test_a_missing_workflow_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="path must be a workflow file"):
        W.schema_problems(tmp_path / "none.yml")
