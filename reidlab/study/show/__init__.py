"""How the study's numbers are shown: the notebooks' registration (``registry``: each notebook's builder,
plan and headline keys, declared once) and typed results (``contract``), the
builders that turn a notebook's numbers into its result, tables and figures (``notebook_results``,
``figures``, ``plots``), results/README.md (``report``), the README's numbers (``readme_numbers``) and
the ranking explorer. It may import :mod:`reidlab.study.compute` and the study's base, never
:mod:`reidlab.study.drive`.
"""
