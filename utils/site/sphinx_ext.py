"""Sphinx extension of the book (``_config.yml`` loads it): offline math, drill anchors, tidy JS.

- **MathJax from the site itself.** MathJax 3.2.2 ships inside the pinned PyPI package
  ``sphinx-mathjax-offline==0.0.2`` (its ``static/mathjax`` folder is the official build with
  CHTML fonts). Its folder is added to ``html_static_path``, so Sphinx copies it to
  ``_static/mathjax/`` on every build, and ``mathjax_path`` points there: a page opened from
  ``file://`` with the network off shows typeset formulas, and the published site serves the
  same copy. The package's own Sphinx hook is not used (its folder name is not importable).
- **Drill anchors.** Every ``Q:`` dropdown of a chapter's drill section gets the id and the
  reference label :func:`utils.site.drills.drill_label` gives it, so the drills index can link
  straight to each answer with ``{ref}`` and the strict build fails on a link that points nowhere.
- **The drills index** (``book/interview_practice/drills.md``) is generated from the chapters
  when the build starts (:func:`utils.site.drills.write_index`); it is git-ignored.
- **No duplicate inline scripts.** sphinx-thebe 0.3.1 registers its configuration script on
  every ``env-before-read-docs``; Jupyter Book emits that twice, so every page declared
  ``const THEBE_JS_URL`` twice and threw a SyntaxError in the browser. Identical script entries
  are dropped per page. The template's colour mode is set explicitly (``auto``, in
  ``html_context``), because an empty mode made pydata-sphinx-theme log an error on every page load.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from docutils import nodes

from utils.site.drills import DRILL_HEADINGS, EXCLUDED_PREFIXES, drill_label, write_index

MATHJAX_DIST = "sphinx-mathjax-offline"
MATHJAX_SCRIPT = "mathjax/tex-mml-chtml.js"


def mathjax_static_dir() -> Path:
    """The folder holding ``mathjax/`` inside the installed ``sphinx-mathjax-offline``."""
    try:
        files = metadata.files(MATHJAX_DIST) or []
    except metadata.PackageNotFoundError as exc:
        raise RuntimeError(
            f"{MATHJAX_DIST} is not installed: it carries the MathJax 3 copy the book serves "
            "itself. Run `make setup` (requirements.txt pins it)."
        ) from exc
    for f in files:
        if str(f).replace("\\", "/").endswith("static/" + MATHJAX_SCRIPT):
            return Path(f.locate()).parents[1]
    raise RuntimeError(
        f"{MATHJAX_DIST} is installed but has no static/{MATHJAX_SCRIPT}; reinstall it"
    )


def _config_inited(app, config) -> None:
    static = mathjax_static_dir()
    config.html_static_path = [*config.html_static_path, str(static)]
    config.mathjax_path = MATHJAX_SCRIPT
    config.html_context = {"default_mode": "auto", **(config.html_context or {})}
    write_index(app.srcdir)


def _is_dropdown(node) -> bool:
    return isinstance(node, nodes.container) and node.get("design_component") == "dropdown"


def _doctree_read(app, doctree) -> None:
    docname = app.env.docname
    if docname.startswith(EXCLUDED_PREFIXES):
        return
    std = app.env.get_domain("std")
    number = 0
    for section in doctree.findall(nodes.section):
        title = section.next_node(nodes.title)
        if title is None or title.astext().strip() not in DRILL_HEADINGS:
            continue
        for dd in section.findall(_is_dropdown):
            if not dd.get("has_title") or not dd.children:
                continue
            head = dd.children[0]
            if not head.astext().startswith("Q:"):
                continue
            number += 1
            label = drill_label(docname, number)
            head["ids"].append(label)
            text = head.astext()
            std.anonlabels[label] = (docname, label)
            std.labels[label] = (docname, label, text)


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for js in scripts:
        # sphinx-thebe's entry arrives once with filename None and once with "" (same body)
        key = (
            getattr(js, "filename", str(js)) or "",
            tuple(sorted((k, str(v)) for k, v in getattr(js, "attributes", {}).items())),
        )
        if key not in seen:
            seen.add(key)
            kept.append(js)
    context["script_files"] = kept


def setup(app):
    app.connect("config-inited", _config_inited, priority=100)
    app.connect("doctree-read", _doctree_read)
    app.connect("html-page-context", _dedupe_scripts)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
