"""The notebooks' package, one room per concern.

``begin`` (every notebook's one start-up call), ``notebook_results`` (each notebook's result,
built and written in one function), ``contract`` (the notebook list and the typed result each
writes), ``pipeline`` (make reproduce, nbval), ``report`` (results/README.md),
``readme_numbers`` (README.md's numbers from results/), ``params`` (notebook parameters ->
profile), ``trained`` (trained models to load or train), ``trials`` (RFD over trials),
``scoring`` (features, metrics, Eq. 8), ``stats`` (paired comparisons, verdicts),
``inspection`` (inside the models), ``ablations`` (Tables 4-5, sweeps), ``methods`` (row
names), ``published`` (the papers' numbers), ``plots``, ``summaries``, ``io``.
"""
