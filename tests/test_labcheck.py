"""tests/labcheck.py: glued values compared within tolerance, drift reported clearly."""

from __future__ import annotations

import fnmatch
import json
import textwrap

import nbformat
import pytest

from tests.labcheck import TIMING_TAG, Band, Tolerances, compare_glue, glued_values, load_tolerances

pytest_plugins = ["pytester"]

TOL = Tolerances(Band(rel=0.0, abs=0.01, why="test band"))


def _glue_output(key: str, value: object) -> dict:
    return {
        "output_type": "display_data",
        "data": {"application/papermill.record/text/plain": repr(value), "text/plain": ""},
        "metadata": {"scrapbook": {"name": key, "mime_prefix": "application/papermill.record/"}},
    }


def test_glued_values_reads_numbers_strings_and_skips_other_outputs():
    outs = [
        {"output_type": "stream", "name": "stdout", "text": "0.5\n"},
        _glue_output("auc", 0.8125),
        _glue_output("n_users", 942),
        _glue_output("winner", "DCN-v2"),
    ]
    assert glued_values(outs) == {"auc": 0.8125, "n_users": 942, "winner": "DCN-v2"}
    assert glued_values(None) == {}


@pytest.mark.parametrize(
    ("old", "new", "ok"),
    [(0.500, 0.509, True), (0.500, 0.4901, True), (0.500, 0.511, False), (3, 3, True)],
)
def test_numbers_pass_within_the_band_and_fail_outside(old, new, ok):
    problems = compare_glue("nb.ipynb", {"k": old}, {"k": new}, TOL)
    assert (problems == []) is ok, problems


def test_drift_message_names_notebook_key_values_and_tolerance():
    (msg,) = compare_glue("labs/a.ipynb", {"ndcg": 0.47}, {"ndcg": 0.43}, TOL)
    for part in ("labs/a.ipynb", "'ndcg'", "committed 0.47", "new 0.43", "abs 0.01", "test band"):
        assert part in msg, msg


def test_missing_new_and_retyped_keys_fail_and_strings_compare_exactly():
    assert "did not glue it" in compare_glue("a", {"k": 1.0}, {}, TOL)[0]
    assert "not in the committed" in compare_glue("a", {}, {"k": 1.0}, TOL)[0]
    assert "changed type" in compare_glue("a", {"k": 1.0}, {"k": "1.0"}, TOL)[0]
    assert "compared exactly" in compare_glue("a", {"k": "LR"}, {"k": "DIN"}, TOL)[0]


def test_timing_cells_are_checked_for_presence_not_value():
    assert compare_glue("a", {"ms": 1.0}, {"ms": 50.0}, TOL, timing=True) == []
    assert compare_glue("a", {"ms": 1.0}, {}, TOL, timing=True) != []


def test_overrides_match_by_glob_and_the_last_one_wins(tmp_path):
    f = tmp_path / "tol.toml"
    f.write_text(
        textwrap.dedent(
            """
            [default]
            rel = 1e-6
            why = "float noise"
            [[override]]
            notebook = "notebooks/ml/*.ipynb"
            keys = ["auc_*"]
            abs = 0.01
            why = "training noise"
            [[override]]
            notebook = "notebooks/ml/b.ipynb"
            keys = ["auc_lr"]
            abs = 0.001
            why = "convex model"
            """
        )
    )
    tol = load_tolerances(f)
    assert tol.band("notebooks/ml/a.ipynb", "auc_din").abs == 0.01
    assert tol.band("notebooks/ml/b.ipynb", "auc_lr").abs == 0.001
    assert tol.band("notebooks/ml/a.ipynb", "ndcg").rel == 1e-6


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("[default]\nrel = 0.1\n", "non-empty 'why'"),
        ("[default]\nrel = -1\nwhy = 'x'\n", "rel must be a finite number"),
        ("[other]\n", "a \\[default\\] band is required"),
        ("[default]\nrel=0\nwhy='x'\n[[override]]\nkeys=['a']\nwhy='y'\n", "'notebook'"),
        ("[default]\nrel=0\nwhy='x'\nrtol=1\n", "unknown field"),
    ],
)
def test_bad_tolerance_files_are_rejected_with_a_clear_error(tmp_path, body, match):
    f = tmp_path / "tol.toml"
    f.write_text(body)
    with pytest.raises(ValueError, match=match):
        load_tolerances(f)


def test_the_books_tolerance_file_is_valid():
    tol = load_tolerances("tests/glue_tolerances.toml")
    assert tol.default.rel < 1e-3 and tol.default.abs < 1e-3  # the default is tight


# ---- end to end: nbval + the plugin on a real one-cell notebook ------------------------------
def _notebook(path, committed, code):
    """A notebook whose committed cell glued ``committed`` and whose source now runs ``code``."""
    cell = nbformat.v4.new_code_cell(code)
    cell.execution_count = 1
    cell.outputs = [nbformat.from_dict(_glue_output(k, v)) for k, v in committed.items()]
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(path))


def _run(pytester, committed, code, band="abs = 0.01"):
    tol = pytester.path / "tol.toml"
    tol.write_text(f"[default]\n{band}\nwhy = 'test'\n")
    _notebook(pytester.path / "lab.ipynb", committed, code)
    return pytester.runpytest_subprocess(
        "-p",
        "tests.labcheck",
        "--nbval-lax",
        f"--glue-tolerances={tol}",
        "lab.ipynb",
        "-p",
        "no:cacheprovider",
    )


GLUE = "from myst_nb import glue\nglue('score', {v}, display=False)\n"


@pytest.fixture
def in_repo(pytester, monkeypatch, request):
    monkeypatch.setenv("PYTHONPATH", str(request.config.rootpath))
    return pytester


def test_notebook_within_tolerance_passes(in_repo):
    res = _run(in_repo, {"score": 0.50}, GLUE.format(v=0.505))
    res.assert_outcomes(passed=1)


def test_notebook_drifted_past_tolerance_fails_with_a_clear_message(in_repo):
    res = _run(in_repo, {"score": 0.50}, GLUE.format(v=0.53))
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*lab.ipynb: glue key 'score' drifted: committed 0.5, new 0.53*"])


def test_notebook_whose_glue_key_disappeared_fails(in_repo):
    res = _run(in_repo, {"score": 0.50}, "x = 1\n")
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*glue key 'score' is in the committed notebook*"])


def test_notebook_whose_own_assert_fails_still_fails(in_repo):
    res = _run(in_repo, {"score": 0.50}, GLUE.format(v=0.5) + "assert False, 'claim broken'\n")
    res.assert_outcomes(failed=1)


def test_record_option_writes_committed_and_new_values(in_repo):
    rec = in_repo.path / "rec.jsonl"
    tol = in_repo.path / "tol.toml"
    tol.write_text("[default]\nabs = 0.01\nwhy = 'test'\n")
    _notebook(in_repo.path / "lab.ipynb", {"score": 0.5}, GLUE.format(v=0.501))
    in_repo.runpytest_subprocess(
        "-p",
        "tests.labcheck",
        "--nbval-lax",
        f"--glue-tolerances={tol}",
        f"--glue-record={rec}",
        "lab.ipynb",
    ).assert_outcomes(passed=1)
    (row,) = [json.loads(line) for line in rec.read_text().splitlines()]
    assert row["key"] == "score" and row["committed"] == 0.5 and row["new"] == 0.501


def test_every_override_is_the_band_of_some_compared_glue_key():
    """A tolerance entry is stale when none of the committed values it is meant for uses it: its
    key was renamed or removed, it matches only timing cells (never compared by value), or a later
    entry (the last match wins) shadows it everywhere. Each is a reviewed band that no longer
    guards anything: remove or fix it."""
    from pathlib import Path

    import nbformat

    root = Path(__file__).resolve().parents[1]
    compared = []  # (notebook, key) of numeric values in cells whose values are compared
    for nb_path in sorted((root / "notebooks").rglob("*.ipynb")):
        if nb_path.name.startswith("."):
            continue
        nb = nbformat.read(nb_path, as_version=4)
        rel = nb_path.relative_to(root).as_posix()
        for c in nb.cells:
            if c.cell_type != "code" or TIMING_TAG in c.get("metadata", {}).get("tags", []):
                continue
            for k, v in glued_values(c.outputs).items():
                if isinstance(v, int | float) and not isinstance(v, bool):
                    compared.append((rel, k))
    tol = load_tolerances(root / "tests" / "glue_tolerances.toml")
    effective = {}  # the override that decides each compared key's band
    for nb, k in compared:
        for i in reversed(range(len(tol.overrides))):
            if tol.overrides[i].matches(nb, k):
                effective.setdefault(i, []).append((nb, k))
                break
    stale = []
    for i, ov in enumerate(tol.overrides):
        for pattern in ov.keys:
            if not any(fnmatch.fnmatchcase(k, pattern) for _, k in effective.get(i, [])):
                stale.append((ov.notebook, pattern))
    assert not stale, (
        "tolerance overrides that decide no compared glue value (renamed key, timing-only, or "
        f"shadowed by a later entry): {stale}"
    )
