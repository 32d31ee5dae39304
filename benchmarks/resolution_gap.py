"""HR-only vs MLR-trained B-F: rank-1 on HR and on LR queries over the quick profile's 3 training seeds x
10 trials (the resolution gap behind issue 12's minimum, measured over units rather than on notebook 01's
one unit and trial). Trains the HR-only B-Fs of seeds 1 and 2 if missing (about 3 min each on a 2-core
AVX2 EPYC); reuses every other run and feature in runs/. Run after make reproduce:

    .venv/bin/python benchmarks/resolution_gap.py
"""
import time
import pandas as pd
from reidlab.config import protocol_kwargs
from reidlab.data import build_protocol, prepare_dataset
from reidlab.paths import resolve
from reidlab.study.params import build_profile
from reidlab.study.compute import inspection, model_store, rfd_trials, scoring
prof = build_profile("quick", task="bf")
ds = prepare_dataset(prof.data)
rows = []
t0 = time.time()
for unit in range(3):
    uprof = rfd_trials.unit_profile(prof, ds, unit)
    split0 = build_protocol("lr_query", ds, trial=0, **protocol_kwargs(prof))
    nets = {"MLR": model_store.bf_model(uprof, split0, "runs", progress=False)[0],
            "HR-only": model_store.bf_model(uprof, split0, "runs", train_on="hr", progress=False)[0]}
    print("unit", unit, "models ready", round(time.time() - t0), flush=True)
    for t in range(prof.eval.trials):
        sp = build_protocol("lr_query", ds, trial=t, **protocol_kwargs(prof))
        for kind, s in (("HR->HR", inspection.hr_query_split(sp)), ("LR->HR", sp)):
            for name, net in nets.items():
                f = scoring.extract_split_features(s, {"bf": net}, height=prof.model.height, width=prof.model.width,
                                                   batch_size=prof.eval.batch_size, flip=prof.eval.flip,
                                                   interpolation=prof.data.interpolation, upsampling=prof.data.upsampling,
                                                   cache_dir=resolve("runs") / "features", progress=False)
                r = scoring.score(f, feature_model="bf", lam=0.0, reading=prof.eval.rfd_reading)
                rows.append({"unit": unit, "trial": t, "model": name, "query": kind, "R1": r["R1"]})
    print("unit", unit, "done", round(time.time() - t0), flush=True)
df = pd.DataFrame(rows)
df.to_csv(resolve("runs") / "resolution_gap.csv", index=False)
w = df.pivot_table(index=["unit", "trial", "model"], columns="query", values="R1").reset_index()
w["gap"] = w["HR->HR"] - w["LR->HR"]
print(w.groupby(["model", "unit"])[["HR->HR", "LR->HR", "gap"]].mean().round(1))
print(w[w.trial == 0].groupby(["model", "unit"])[["HR->HR", "LR->HR", "gap"]].mean().round(1))
print(w.groupby("model")[["HR->HR", "LR->HR", "gap"]].mean().round(1))
