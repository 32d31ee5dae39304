"""Notebook glue: parameters, run folders, evaluation over trials, tables, figures, the report.

The numbered notebooks stay thin: a parameters cell, a few calls into this package
(and into ``reidlab.data``, ``reidlab.engine``...), a table or a plot.
"""
