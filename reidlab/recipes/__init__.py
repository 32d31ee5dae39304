"""The methods' training recipes: what each paper's networks are trained on and how, written on the
training machinery of :mod:`reidlab.engine`. ``rfd_baselines``: RFD's B-F and B-R; ``ps_hrnet``:
PS-HRNet's teacher and student (the pseudo-siamese framework); ``pretraining``: the pre-training
stand-in for ImageNet on SynthPeople.
"""
