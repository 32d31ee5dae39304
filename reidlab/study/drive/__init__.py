"""How a run of the study is driven: a notebook's one start-up (``begin``), the training units of a
study as jobs (``units``: listed, and trained outside the notebooks), and ``make reproduce``,
``make sweep``, ``make check-results`` and ``make test``'s notebook runs (``pipeline``).
"""
