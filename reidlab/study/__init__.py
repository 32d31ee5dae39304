"""The study behind the notebooks: a shared base and three rooms by concern, importing downward only.

- The base, here: ``params`` (notebook parameters -> a validated profile), ``provenance`` (which code,
  machine and precision made a results folder), ``published`` (the papers' own numbers) and ``methods``
  (the names of the compared methods).
- :mod:`reidlab.study.compute`: what is computed (the trained models a notebook scores, RFD over trials,
  the ablations, the controls, the inspections, the training-length sweep, scores and statistics, the
  comparison of two runs).
- :mod:`reidlab.study.show`: how it is shown (the notebooks' registration and typed results, result
  builders, tables and figures, results/README.md, the README's numbers, the ranking explorer).
- :mod:`reidlab.study.drive`: how a run is driven (a notebook's start-up, the training units as jobs,
  ``make reproduce`` / ``make sweep`` / ``make test``'s notebook runs).

``drive`` may import ``show``, ``compute`` and the base; ``show`` may import ``compute`` and the base;
``compute`` only the base; at load or inside a function alike (``tests/test_architecture_doc.py``).
"""
