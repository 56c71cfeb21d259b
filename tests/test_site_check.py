"""The browser check (headless Chromium via Playwright) finds each kind of broken page.

Needs Debian's ``chromium`` (``.ci/run`` installs it); without it these tests fail with the
message that says how to install it, like the check itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from utils.site import check as C
from utils.site.sphinx_ext import MATHJAX_SCRIPT, mathjax_static_dir

MATHJAX = (mathjax_static_dir() / MATHJAX_SCRIPT).as_uri()

GOOD = f"""<!doctype html><html><head><script defer src="{MATHJAX}"></script>
<script src="{C.OPTIONAL_REQUESTS[0]}"></script></head><body>
<h1 id="top">Good</h1><p>Inline <span class="math notranslate nohighlight">\\(x^2 + 1\\)</span>.</p>
<div class="math notranslate nohighlight">\\[\\sum_i w_i\\]</div>
<img src="_images/dot.png"><a href="bad.html#target">bad</a> <a href="#top">top</a>
<pre>code may hold \\( and {{doc}}`x`</pre></body></html>"""

BAD = """<!doctype html><html><head><script src="https://cdn.example.org/x.js"></script></head>
<body><p id="target">Raw <span class="math">\\(y\\)</span> math and {doc}`chapter` left.</p>
<img src="_images/missing.png"><script>console.error("boom")</script>
<a href="missing.html">gone</a> <a href="good.html#nowhere">no anchor</a>
<span class="xref std std-ref">lost-label</span>
<pre>```{dropdown} Q: broken fence</pre></body></html>"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("site")
    html = root / "_build" / "html"
    (html / "_images").mkdir(parents=True)
    (html / "notebooks").mkdir()
    Image.fromarray(np.full((4, 6, 3), 200, np.uint8)).save(html / "_images" / "dot.png")
    (html / "index.html").write_text(
        '<!doctype html><html><body><a href="good.html">g</a></body></html>'
    )
    (html / "good.html").write_text(GOOD)
    (html / "bad.html").write_text(BAD)
    (html / "moved.html").write_text('<meta http-equiv="Refresh" content="0; url=good.html" />')
    (html / "lost.html").write_text('<meta http-equiv="Refresh" content="0; url=gone.html" />')
    (html / "notebooks" / "lab.html").write_text(
        "<!doctype html><html><body><h1>Lab</h1></body></html>"
    )
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: index\nparts:\n  - caption: P\n    chapters:\n"
        "      - file: good\n        sections:\n          - file: notebooks/lab\n"
    )
    return root


@pytest.fixture(scope="module")
def report(site):
    html = site / "_build" / "html"
    return C.check_site(html, site / "_build" / "shots", root=site, workers=2)


def _problems(report, page):
    return [p for p in report.problems if p.startswith(page + ":")]


def test_a_good_page_passes_with_math_typeset_offline(report):
    good = next(p for p in report.pages if p.path == "good.html")
    assert good.problems == []
    assert good.n_math == 2 and good.n_images == 1
    assert good.optional_requests == 1  # the widget CDN: blocked, counted, not a failure
    assert _problems(report, "good.html") == []


@pytest.mark.parametrize(
    "expected",
    [
        "console error",
        "image not loaded",
        "MathJax did not run",
        "raw TeX",
        "unresolved role",
        "unresolved cross-references",
        "directive rendered as code",
        "needs the network",
        "missing file",
        "missing anchor good.html#nowhere",
    ],
)
def test_each_fault_on_the_bad_page_is_reported(report, expected):
    found = _problems(report, "bad.html")
    assert any(expected in p for p in found), found


def test_screenshots_cover_each_part_first_page_and_every_lab(report, site):
    names = sorted(p.name for p in report.screenshots)
    assert names == ["good.png", "good__math.png", "index.png", "notebooks__lab.png"]
    for p in report.screenshots:
        assert p.stat().st_size > 1000
    assert "problems" in report.summary()


def test_bad_input_is_named(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="html_dir must be a built site"):
        C.site_pages(tmp_path)
    with pytest.raises(ValueError, match="workers"):
        C.check_site(tmp_path, workers=0)
    monkeypatch.setenv("CHROMIUM", str(tmp_path / "no-chrome"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="apt-get install -y chromium"):
        C.find_chromium()


def test_a_redirect_page_is_checked_by_its_target(report):
    assert _problems(report, "moved.html") == []
    assert any("missing file" in p for p in _problems(report, "lost.html"))
