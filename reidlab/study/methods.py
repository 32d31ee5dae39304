"""The names of the compared methods, as they appear in tables and per-trial data.

One definition, so notebooks, tables and tests never spell a method twice.
"""
from __future__ import annotations

#: MGN without channel attention (the attention-free "baseline" of RFD's ablations).
BASELINE = "baseline"
#: RFD's feature baseline B-F, ranked by its own features.
BF = "baseline B-F"
#: B-F trained on HR images only (no LR copies): what multi-resolution training is measured against.
HR_ONLY_BF = "B-F trained on HR only"
#: PS-HRNet's student, ranked by its own features.
PS_HRNET = "PS-HRNet"


def with_rfd(method: str) -> str:
    """The row of ``method`` fused with B-R by Eq. 8 ("B-F+RFD", "PS-HRNet+RFD")."""
    return ("B-F" if method == BF else method) + "+RFD"


#: B-F fused with B-R (RFD's method).
BF_RFD = with_rfd(BF)
