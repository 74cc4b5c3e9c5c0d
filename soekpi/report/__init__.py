"""Report runs: a run folder per cycle with HTML, Markdown, CSV, JSON and a manifest.

``run.write_report`` is the entry point; ``render`` turns report data into strings,
``charts`` draws the inline SVG charts, ``format`` formats numbers for people.
"""
