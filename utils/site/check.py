"""Open every page of the built site in headless Chromium and report what a reader would see broken.

Playwright (the pinned Python client) drives the system Chromium (Debian's ``chromium``; set
``CHROMIUM`` to use another binary); Playwright's own browser download is never used. Every
request that is not a local file is aborted and reported, so the check also proves that the site
works with the network off (MathJax included). For each page:

- no console error and no uncaught JavaScript exception;
- every ``<img>`` loaded with a non-zero natural size;
- math typeset: MathJax finished, one ``mjx-container`` per ``.math`` element, and no raw
  ``\\(``, ``\\[`` or ``$$`` left in the visible text outside code;
- no unresolved glue or role markup (``{glue:``, ``{doc}`` ...), no Sphinx ``problematic`` node
  and no cross-reference rendered without a link;
- every internal link resolves to an existing file and, if it names an anchor, to an element
  with that id on the target page.

Screenshots of the first page of every part and of every lab go to the screenshot folder, with
a second one centred on the page's first formula where it has any.
``python -m utils.site.check _build/html --screenshots _build/screenshots`` exits non-zero and
lists every problem, one line each, naming the page.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
SKIP_DIRS = ("_static", "_sources", "_images", "_downloads")
# The only requests to other hosts a page may make, and why: myst-nb loads the ipywidgets
# embedding manager from a CDN on labs that saved widget state. The rendered book has no kernel,
# so a widget there only shows its controls; the static figure beside it (BOOK_GUIDE) carries the
# result, and offline the widget area stays empty. Anything else off-site fails the check.
OPTIONAL_REQUESTS = (
    "https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.4/require.min.js",
    "https://cdn.jsdelivr.net/npm/@jupyter-widgets/html-manager@1.0.6/dist/embed-amd.js",
)

# Runs in the page after load: waits for MathJax, then returns everything the checks need.
_PAGE_JS = r"""
async () => {
  const out = {};
  const mathEls = document.querySelectorAll('.math');
  out.nMath = mathEls.length;
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    try { await MathJax.startup.promise; out.mathjax = true; }
    catch (e) { out.mathjax = 'failed: ' + e; }
  } else { out.mathjax = false; }
  out.nTypeset = document.querySelectorAll('mjx-container').length;
  out.untypeset = Array.from(mathEls).filter(e => !e.querySelector('mjx-container')).length;
  const imgs = Array.from(document.images);
  out.images = imgs.map(i => ({src: i.currentSrc || i.src,
                               ok: i.complete && i.naturalWidth > 0 && i.naturalHeight > 0}));
  // visible text outside code, scripts and typeset math
  const skip = new Set(['PRE', 'CODE', 'SCRIPT', 'STYLE', 'MJX-CONTAINER', 'TEXTAREA', 'NOSCRIPT']);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode(n) {
      for (let p = n.parentElement; p; p = p.parentElement) {
        if (skip.has(p.tagName) || p.classList.contains('highlight')) {
          return NodeFilter.FILTER_REJECT;
        }
      }
      return NodeFilter.FILTER_ACCEPT;
    }
  });
  const texts = [];
  while (walker.nextNode()) texts.push(walker.currentNode.nodeValue);
  out.text = texts.join(' ');
  out.problematic = document.querySelectorAll('.problematic, .system-message').length;
  out.rawDirectives = Array.from(document.querySelectorAll('pre'))
      .filter(p => /^(```|:::)\{[a-z-]+\}/m.test(p.textContent))
      .map(p => p.textContent.slice(0, 80));
  out.unlinkedXrefs = Array.from(document.querySelectorAll('span.xref, code.xref'))
      .filter(e => !e.closest('a')).map(e => e.textContent.trim()).slice(0, 5);
  out.links = Array.from(document.querySelectorAll('a[href]')).map(a => a.href);
  out.ids = Array.from(document.querySelectorAll('[id]')).map(e => e.id);
  return out;
}
"""
_OFFSITE = re.compile(r"^(https?|wss?|ftp)://")
_REFRESH = re.compile(r'<meta http-equiv="Refresh" content="0; url=([^"]+)"', re.I)
_RAW_MATH = re.compile(r"\\\(|\\\[|\$\$")
_RAW_ROLE = re.compile(
    r"\{(glue|glue:text|glue:md|glue:figure|doc|ref|numref|cite|cite:p|cite:t|term|eq)\}`"
)


@dataclass
class PageResult:
    """What one page showed; ``problems`` is empty when it passes."""

    path: str
    problems: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    n_math: int = 0
    n_images: int = 0
    optional_requests: int = 0
    seconds: float = 0.0


@dataclass
class SiteReport:
    """Every page's result, the internal-link problems, the screenshots and the time taken."""

    pages: list[PageResult]
    link_problems: list[str]
    screenshots: list[Path]
    seconds: float

    @property
    def problems(self) -> list[str]:
        return [f"{p.path}: {msg}" for p in self.pages for msg in p.problems] + self.link_problems

    def summary(self) -> str:
        n_math = sum(p.n_math for p in self.pages)
        n_img = sum(p.n_images for p in self.pages)
        n_links = sum(len(p.links) for p in self.pages)
        n_widget = sum(p.optional_requests > 0 for p in self.pages)
        return (
            f"{len(self.pages)} pages, {n_math} formulas, {n_img} images, {n_links} links checked, "
            f"{n_widget} pages asked for the optional widget CDN (blocked), "
            f"{len(self.screenshots)} screenshots, {len(self.problems)} problems, "
            f"{self.seconds:.0f} s"
        )


def find_chromium() -> str:
    """The Chromium binary: ``$CHROMIUM``, else ``chromium`` / ``chromium-browser`` on PATH."""
    tried = []
    env = os.environ.get("CHROMIUM")
    if env:
        if Path(env).is_file() and os.access(env, os.X_OK):
            return env
        tried.append(f"$CHROMIUM={env}")
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
        tried.append(name)
    raise FileNotFoundError(
        "no Chromium found (tried " + ", ".join(tried) + "). Install Debian's package: "
        "`sudo apt-get install -y chromium` (.ci/run does this on CI), or set CHROMIUM to a "
        "Chromium/Chrome binary."
    )


def site_pages(html_dir: str | Path) -> list[Path]:
    """Every HTML page of a built site, outside the static and source folders, sorted."""
    html_dir = Path(html_dir)
    if not (html_dir / "index.html").is_file():
        raise FileNotFoundError(
            f"html_dir must be a built site with index.html; none in {html_dir} (run `make book`)"
        )
    return sorted(
        p for p in html_dir.rglob("*.html") if p.relative_to(html_dir).parts[0] not in SKIP_DIRS
    )


def _static_ids(path: Path) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', path.read_text(errors="replace")))


def check_links(html_dir: Path, pages: list[PageResult]) -> list[str]:
    """Internal links (``file://`` under ``html_dir``) that name a missing file or anchor."""
    html_dir = html_dir.resolve()
    ids = {str((html_dir / p.path).resolve()): p.ids for p in pages}
    problems = []
    for page in pages:
        for href in sorted(set(page.links)):
            url, frag = urldefrag(href)
            parsed = urlparse(url)
            if parsed.scheme != "file":
                continue
            target = Path(unquote(parsed.path))
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                problems.append(f"{page.path}: link to a missing file {target}")
                continue
            if frag and target.suffix == ".html":
                key = str(target.resolve())
                if key not in ids:
                    ids[key] = _static_ids(target)
                if unquote(frag) not in ids[key]:
                    problems.append(f"{page.path}: link to a missing anchor {target.name}#{frag}")
    return problems


class _Tab:
    """One browser tab, reused page after page: its listeners report into the current result."""

    def __init__(self, page):
        self.page = page
        self.res: PageResult | None = None
        self.external: list[str] = []

    @classmethod
    async def open(cls, context) -> _Tab:
        tab = cls(await context.new_page())

        async def block(r):
            tab.external.append(r.request.url)
            await r.abort()

        # Only off-site requests reach Python (Playwright matches the pattern itself), so the
        # page's own files load without a round trip through this process.
        await tab.page.route(_OFFSITE, block)
        tab.page.on(
            "console", lambda m: m.type == "error" and tab.report(f"console error: {m.text}")
        )
        tab.page.on("pageerror", lambda e: tab.report(f"uncaught exception: {e}"))
        return tab

    def report(self, message: str) -> None:
        if self.res is not None:
            self.res.problems.append(message[:240])


async def _check_page(
    tab: _Tab, html_dir: Path, path: Path, shot: Path | None, timeout_s: float
) -> PageResult:
    res = PageResult(str(path.relative_to(html_dir)))
    t0 = time.perf_counter()
    redirect = _REFRESH.search(path.read_text(errors="replace")[:2000])
    if redirect:  # Jupyter Book's root index.html only forwards to the first page
        res.links = [(path.parent / redirect.group(1)).resolve().as_uri()]
        return res
    page = tab.page
    tab.res, tab.external = res, []
    try:
        await page.goto(path.resolve().as_uri(), wait_until="load", timeout=timeout_s * 1000)
        info = await page.evaluate(_PAGE_JS)
        if shot is not None:
            shot.parent.mkdir(parents=True, exist_ok=True)
            await page.evaluate("() => window.scrollTo(0, 0)")
            await page.screenshot(path=str(shot))
            if info["nTypeset"]:  # and one with the first formula in view, to see it typeset
                await page.evaluate(
                    "() => document.querySelector('mjx-container')"
                    ".scrollIntoView({block: 'center'})"
                )
                await page.screenshot(path=str(shot.with_name(shot.stem + "__math.png")))
        await page.goto("about:blank")  # late events of this page land before the next one
    except Exception as exc:  # a page that does not load is a failure, not a crash of the check
        res.problems.append(f"did not load: {type(exc).__name__}: {str(exc)[:200]}")
        tab.res = None
        raise _TabBroken(res) from exc
    tab.res = None
    external = tab.external
    # console errors for aborted external requests are reported once, as "needs the network"
    res.problems = [p for p in res.problems if "net::ERR_FAILED" not in p]
    for url in sorted(set(external)):
        if url in OPTIONAL_REQUESTS:
            res.optional_requests += 1
        else:
            res.problems.append(f"requests {url}: the page needs the network")
    res.n_math, res.n_images = info["nMath"], len(info["images"])
    if info["nMath"]:
        if info["mathjax"] is not True:
            res.problems.append(
                f"{info['nMath']} formulas but MathJax did not run ({info['mathjax']})"
            )
        elif info["untypeset"]:
            res.problems.append(f"{info['untypeset']} of {info['nMath']} formulas not typeset")
    m = _RAW_MATH.search(info["text"])
    if m:
        res.problems.append(
            f"raw TeX in the text: ...{info['text'][max(0, m.start() - 40) : m.end() + 40]!r}"
        )
    m = _RAW_ROLE.search(info["text"])
    if m:
        res.problems.append(
            f"unresolved role: ...{info['text'][max(0, m.start() - 20) : m.end() + 60]!r}"
        )
    if info["problematic"]:
        res.problems.append(f"{info['problematic']} Sphinx problematic/system-message nodes")
    if info["rawDirectives"]:
        res.problems.append(
            f"directive rendered as code (a broken fence?): {info['rawDirectives'][0]!r}"
        )
    if info["unlinkedXrefs"]:
        res.problems.append(f"unresolved cross-references: {info['unlinkedXrefs']}")
    for img in info["images"]:
        if not img["ok"]:
            res.problems.append(f"image not loaded or zero-size: {img['src'][-120:]}")
    res.links = info["links"]
    res.ids = set(info["ids"])
    res.seconds = time.perf_counter() - t0
    return res


class _TabBroken(Exception):
    """The tab may be unusable after a failed page; the worker opens a new one."""


async def _run(
    html_dir: Path, pages: list[Path], shots: dict[Path, Path], workers: int, timeout_s: float
):
    from playwright.async_api import async_playwright

    results: dict[Path, PageResult] = {}
    queue: asyncio.Queue[Path] = asyncio.Queue()
    for p in pages:
        queue.put_nowait(p)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=find_chromium(), args=list(CHROMIUM_FLAGS)
        )
        context = await browser.new_context(viewport={"width": 1280, "height": 900})

        async def worker() -> None:
            tab = await _Tab.open(context)
            while not queue.empty():
                p = queue.get_nowait()
                try:
                    results[p] = await _check_page(tab, html_dir, p, shots.get(p), timeout_s)
                except _TabBroken as broken:
                    results[p] = broken.args[0]
                    await tab.page.close()
                    tab = await _Tab.open(context)

        await asyncio.gather(*(worker() for _ in range(min(workers, len(pages)) or 1)))
        await browser.close()
    return [results[p] for p in pages]


def screenshot_pages(html_dir: str | Path, root: str | Path = ".") -> list[Path]:
    """The built pages of each part's first document in ``_toc.yml`` and of every lab."""
    from utils.site.drills import toc_documents

    html_dir = Path(html_dir)
    first: dict[str, str] = {}
    labs = []
    for caption, doc in toc_documents(root):
        first.setdefault(caption, doc)
        if doc.startswith("notebooks/"):
            labs.append(doc)
    docs = list(dict.fromkeys([*first.values(), *labs]))
    return [html_dir / f"{d}.html" for d in docs if (html_dir / f"{d}.html").is_file()]


def check_site(
    html_dir: str | Path,
    screenshots: str | Path | None = None,
    *,
    root: str | Path = ".",
    pages: list[Path] | None = None,
    workers: int = 3,
    timeout_s: float = 60.0,
) -> SiteReport:
    """Check every page of ``html_dir`` (or the given ``pages``); see the module docstring."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    html_dir = Path(html_dir).resolve()
    todo = [Path(p).resolve() for p in pages] if pages is not None else site_pages(html_dir)
    shots: dict[Path, Path] = {}
    if screenshots is not None:
        shot_dir = Path(screenshots)
        if shot_dir.exists():
            shutil.rmtree(shot_dir)
        for p in screenshot_pages(html_dir, root):
            name = str(p.relative_to(html_dir).with_suffix("")).replace(os.sep, "__") + ".png"
            shots[p.resolve()] = shot_dir / name
    t0 = time.perf_counter()
    results = asyncio.run(_run(html_dir, todo, shots, workers, timeout_s))
    link_problems = check_links(html_dir, results)
    made = sorted(Path(screenshots).glob("*.png")) if screenshots is not None else []
    return SiteReport(results, link_problems, made, time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    """``python -m utils.site.check HTML_DIR [--screenshots DIR] [--workers N]``."""
    import argparse

    p = argparse.ArgumentParser(
        prog="python -m utils.site.check", description=__doc__.split("\n")[0]
    )
    p.add_argument("html_dir")
    p.add_argument("--screenshots", default=None)
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--root", default=".")
    a = p.parse_args(argv)
    report = check_site(a.html_dir, a.screenshots, root=a.root, workers=a.workers)
    for line in report.problems:
        print(line)
    print(
        f"check-site: {report.summary()}"
        + (f"; screenshots in {a.screenshots}" if a.screenshots else "")
    )
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
