"""The built book as readers see it: online reading and interview practice (import the modules).

- :mod:`.drills`: every chapter's interview drills, labelled and sorted into topics; the drills
  index page generated at build time (:func:`~.drills.write_index`) and the Anki flashcards
  (:func:`~.drills.write_flashcards`, ``make flashcards``).
- :mod:`.sphinx_ext`: the book's Sphinx extension: MathJax 3 served from ``_static`` (offline),
  drill anchors and labels, the drills index written when a build starts.
- :mod:`.check`: every built page opened in headless Chromium (Playwright driving the system
  browser, network blocked): console errors, images, typeset math, unresolved references,
  internal links and anchors; screenshots for review (``make check-site``).
- :mod:`.workflow`: checks of the GitHub Pages workflow file (schema and the book's rules).
"""
