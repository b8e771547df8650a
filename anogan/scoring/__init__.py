"""The scoring stage: a bundle and a batch of images in, one :class:`~anogan.scoring.batch.ScoreBatch` out.

Every method maps ``uint8`` images to the same fields, so the CLI, the API,
the dashboard and the evaluation share one schema: ``score`` (higher = more
anomalous), its two terms, ``reconstruction`` (G(z), or the nearest normal
image), ``anomaly_map`` = |x - reconstruction| (the localisation map), ``z``
and ``reason`` (why an image is not of the trained kind at all).

* :mod:`~anogan.scoring.methods`: the registered methods, one module per
  family: ``anogan`` and ``hybrid`` (latent inversion), ``encoder``
  (f-AnoGAN), ``feature-knn``;
* :mod:`~anogan.scoring.inversion` (how z is found) and
  :mod:`~anogan.scoring.terms` (how its terms become a score), kept apart so
  variants share one inversion; :mod:`~anogan.scoring.neighbours`, the
  cosine k-NN both the latent bank and ``feature-knn`` use;
* :mod:`~anogan.scoring.scorer`: :class:`~anogan.scoring.scorer.Scorer`,
  one method of one bundle built once; :mod:`~anogan.scoring.domain`, the
  input check;
* :mod:`~anogan.scoring.calibration`: thresholds on held-out normal images,
  stored with the bundle; :mod:`~anogan.scoring.recipes`: named, complete
  configurations from training to scoring; :mod:`~anogan.scoring.settings`,
  the settings every method reads its own from.

A score is a pure function of (bundle, image, settings): G and D run with
``training=False``, each image's random start is seeded from its own pixels
and every loss is a sum of per-image terms, so an image's score does not
depend on its batch.
"""
