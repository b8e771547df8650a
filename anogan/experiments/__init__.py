"""Experiments: jobs built from the stages below, and the measurements that protect the numbers.

* :mod:`~anogan.experiments.pipeline`: the few steps every job is made of
  (train or reuse a bundle, prepare a calibrated scorer, score a split) and
  the main job, ``anogan run``;
* :mod:`~anogan.experiments.evaluation`: metrics of a results file (AUROC,
  AUPRC, TPR at 1 % / 5 % FPR, recall at the bundle's threshold) and plots;
* :mod:`~anogan.experiments.benchmark`: the one-class benchmark over
  classes × seeds × candidates, on the test or the dev split;
  :mod:`~anogan.experiments.reports`: its summaries and tables.
"""
