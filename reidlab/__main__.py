"""``python -m reidlab``: the package has no command of its own; this names the ones it has."""
from __future__ import annotations

import sys

ENTRY_POINTS: tuple[tuple[str, str], ...] = (
    ("make reproduce", "the whole study on the embedded data (notebooks 00-08), regenerating results/"),
    ("make test", "unit tests and every notebook under nbval (smoke profile)"),
    ("make sweep", "the training-length sweep (notebook 09) into results/sweep/"),
    ("python -m reidlab.study.drive.pipeline reproduce|check-results|report|prepare-nbval|record-nbval",
     "the study's pipeline (what the make targets call); --help for each"),
    ("python -m reidlab.train_cli --task bf|br ...", "train RFD's B-F or B-R on one protocol trial (also reidlab-train)"),
    ("papermill notebooks/03_rfd_eval.ipynb out.ipynb -p lam 0.1", "one notebook with parameters"),
)


def main(argv: list[str] | None = None) -> int:
    lines = ["reidlab has no command of its own (python -m reidlab); use one of:"]
    width = max(len(cmd) for cmd, _ in ENTRY_POINTS)
    lines += [f"  {cmd:<{width}}  {what}" for cmd, what in ENTRY_POINTS]
    print("\n".join(lines), file=sys.stderr)
    return 0 if (argv if argv is not None else sys.argv[1:]) in ([], ["-h"], ["--help"]) else 2


if __name__ == "__main__":
    raise SystemExit(main())
