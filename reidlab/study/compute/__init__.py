"""What the study computes: each notebook's plan (its defaults resolved and the units it trains,
``plans``), the trained models a notebook scores, trained or reused (``model_store``),
RFD's evaluation over trials and units (``rfd_trials``, Eq. 8), the ablations, the controls, the
inspections of the networks, the training-length sweep, scores, paired statistics, and the comparison
of two runs of the study (``check``). Nothing here writes a notebook's result or draws a figure
(:mod:`reidlab.study.show`) or runs a notebook (:mod:`reidlab.study.drive`).
"""
