"""pytest plugin: compare every lab's glued values with the committed ones, within a tolerance.

``make test`` runs the labs with ``pytest --nbval-lax -p tests.labcheck``. nbval executes every
cell and fails on any exception, so each lab's own asserts carry its claims. nbval's byte-for-byte
output comparison is kept only for cells tagged ``nbval``: outputs that are deterministic by
construction (counts, shapes, ids, strings). Everything a chapter quotes is glued
(``utils.glue``), and this plugin checks those values:

- a number must match the committed one within the band that ``tests/glue_tolerances.toml``
  gives its key, ``|new - committed| <= max(rel * |committed|, abs)`` (as ``pytest.approx``);
- a string or a bool must match exactly;
- keys glued in a cell tagged ``nbval-ignore-output`` (wall-clock timings) are checked for
  presence and type only, never by value: their labs assert ratios instead;
- a key the committed cell has and the new run does not glue fails, and so does a key the new run
  glues that the committed notebook lacks (the notebook was not re-executed after an edit).

A drifted value fails the cell with a message that names the notebook, the key, both values and
the tolerance. Options: ``--glue-tolerances=FILE`` (default: the file above), ``--glue-record=FILE``
(append every committed/new pair as a JSON line, to measure cross-machine variation), and
``--lab-lock=FILE`` (hold an exclusive lock on FILE while a notebook runs, so that labs timed by
``make execute`` elsewhere on the machine are not disturbed).
"""

from __future__ import annotations

import ast
import fcntl
import fnmatch
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from utils import glued_texts

TIMING_TAG = "nbval-ignore-output"
DEFAULT_TOLERANCES = Path(__file__).with_name("glue_tolerances.toml")


# --------------------------------------------------------------------------------------------
# Tolerances
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Band:
    """``|new - committed| <= max(rel * |committed|, abs)``; ``why`` says where it comes from."""

    rel: float
    abs: float
    why: str

    def holds(self, committed: float, new: float) -> bool:
        return math.isclose(new, committed, rel_tol=self.rel, abs_tol=self.abs)

    def describe(self) -> str:
        return f"rel {self.rel:g}, abs {self.abs:g} ({self.why})"


@dataclass
class Override:
    notebook: str
    keys: list[str]
    band: Band

    def matches(self, notebook: str, key: str) -> bool:
        return fnmatch.fnmatchcase(notebook, self.notebook) and any(
            fnmatch.fnmatchcase(key, k) for k in self.keys
        )


@dataclass
class Tolerances:
    """The default band and the per-key overrides; the last matching override wins."""

    default: Band
    overrides: list[Override] = field(default_factory=list)

    def band(self, notebook: str, key: str) -> Band:
        for ov in reversed(self.overrides):
            if ov.matches(notebook, key):
                return ov.band
        return self.default


def _band(table: dict, where: str) -> Band:
    unknown = set(table) - {"rel", "abs", "why", "notebook", "keys"}
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {sorted(unknown)}")
    rel, abs_ = table.get("rel", 0.0), table.get("abs", 0.0)
    why = table.get("why", "")
    for name, v in (("rel", rel), ("abs", abs_)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < math.inf:
            raise ValueError(f"{where}: {name} must be a finite number >= 0, got {v!r}")
    if not isinstance(why, str) or not why.strip():
        raise ValueError(f"{where}: every band needs a non-empty 'why'")
    return Band(float(rel), float(abs_), why.strip())


def load_tolerances(path: str | Path) -> Tolerances:
    """Read and validate a tolerance file (see ``tests/glue_tolerances.toml`` for the format)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"glue tolerance file {path} does not exist")
    data = tomllib.loads(path.read_text())
    if "default" not in data:
        raise ValueError(f"{path}: a [default] band is required")
    tol = Tolerances(_band(data["default"], f"{path} [default]"))
    for i, ov in enumerate(data.get("override", [])):
        where = f"{path} [[override]] #{i + 1}"
        nb, keys = ov.get("notebook"), ov.get("keys")
        if not isinstance(nb, str) or not nb:
            raise ValueError(f"{where}: 'notebook' must be a path or glob")
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
            raise ValueError(f"{where}: 'keys' must be a non-empty list of names or globs")
        tol.overrides.append(Override(nb, keys, _band(ov, where)))
    return tol


# --------------------------------------------------------------------------------------------
# Comparing one cell's glued values
# --------------------------------------------------------------------------------------------
def glued_values(outputs) -> dict[str, object]:
    """``{key: value}`` of the ``utils.glue``/``myst_nb.glue`` records among a cell's outputs."""
    found: dict[str, object] = {}
    for key, text in glued_texts(outputs).items():
        try:
            found[key] = ast.literal_eval(text) if text is not None else None
        except (ValueError, SyntaxError):
            found[key] = text  # not a literal (an object's repr): compared as text
    return found


def _kind(v: object) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    return type(v).__name__


def compare_glue(
    notebook: str,
    committed: dict[str, object],
    new: dict[str, object],
    tolerances: Tolerances,
    *,
    timing: bool = False,
) -> list[str]:
    """Every problem found in one cell, as a readable line; an empty list means it passes."""
    problems = []
    for key in sorted(set(committed) - set(new)):
        problems.append(
            f"{notebook}: glue key {key!r} is in the committed notebook but this run did not "
            "glue it (renamed or removed? re-execute the lab and update the chapter)"
        )
    for key in sorted(set(new) - set(committed)):
        problems.append(
            f"{notebook}: glue key {key!r} was glued by this run but is not in the committed "
            "notebook (re-execute the lab with `make execute LABS=...` and commit it)"
        )
    for key in sorted(set(committed) & set(new)):
        old, now = committed[key], new[key]
        if _kind(old) != _kind(now):
            problems.append(
                f"{notebook}: glue key {key!r} changed type: committed {old!r}, new {now!r}"
            )
            continue
        if timing:
            continue  # wall-clock: presence and type only
        if _kind(old) == "number":
            band = tolerances.band(notebook, key)
            if not band.holds(float(old), float(now)):
                problems.append(
                    f"{notebook}: glue key {key!r} drifted: committed {old!r}, new {now!r}, "
                    f"|diff| {abs(float(now) - float(old)):.3g} > tolerance "
                    f"{band.describe()}"
                )
        elif old != now:
            problems.append(
                f"{notebook}: glue key {key!r} changed: committed {old!r}, new {now!r} "
                "(strings are compared exactly)"
            )
    return problems


# --------------------------------------------------------------------------------------------
# pytest hooks
# --------------------------------------------------------------------------------------------
def pytest_addoption(parser):
    group = parser.getgroup("labcheck", "lab glue values within tolerance")
    group.addoption(
        "--glue-tolerances",
        default=str(DEFAULT_TOLERANCES),
        help="TOML file with the default band and per-key overrides",
    )
    group.addoption(
        "--glue-record", default=None, help="append committed/new glue pairs (JSON lines)"
    )
    group.addoption("--lab-lock", default=None, help="hold this file's lock while a lab runs")


def pytest_configure(config):
    config._labcheck_tol = load_tolerances(config.getoption("--glue-tolerances"))


def _is_nbval_cell(item) -> bool:
    return hasattr(item, "cell") and hasattr(item, "cell_num") and hasattr(item, "parent")


def _notebook_name(item) -> str:
    path = Path(str(item.parent.fspath))
    try:
        return path.resolve().relative_to(Path(str(item.config.rootpath)).resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _code_cells(item) -> int:
    return sum(1 for c in item.parent.nb.cells if c.cell_type == "code")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    lock = item.config.getoption("--lab-lock")
    if lock and _is_nbval_cell(item) and item.cell_num == 0:
        fh = open(lock, "a")  # held across hooks, closed in teardown
        fcntl.flock(fh, fcntl.LOCK_EX)
        item.parent._labcheck_lock = fh


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item):
    fh = getattr(getattr(item, "parent", None), "_labcheck_lock", None)
    if fh is not None and _is_nbval_cell(item) and item.cell_num == _code_cells(item) - 1:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()
        item.parent._labcheck_lock = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield  # nbval ran the cell (and raised if it failed or its tagged output differs)
    if not _is_nbval_cell(item) or item.cell.execution_count is None:
        return result
    notebook = _notebook_name(item)
    committed = glued_values(item.cell.get("outputs"))
    new = glued_values(getattr(item, "test_outputs", None))
    tags = set(item.cell.get("metadata", {}).get("tags", []))
    timing = TIMING_TAG in tags
    record = item.config.getoption("--glue-record")
    if record and (committed or new):
        with open(record, "a") as fh:
            for key in sorted(set(committed) | set(new)):
                row = {
                    "notebook": notebook,
                    "cell": item.cell_num,
                    "key": key,
                    "committed": committed.get(key),
                    "new": new.get(key),
                    "timing": timing,
                }
                fh.write(json.dumps(row) + "\n")
    problems = compare_glue(notebook, committed, new, item.config._labcheck_tol, timing=timing)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
    return result
