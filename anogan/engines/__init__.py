"""Engines: where scoring (and benchmark runs) happen; one machine by default, Ray beyond it.

* :mod:`~anogan.engines.local`: this process, one chunk after another;
* :mod:`~anogan.engines.ray_engine`: a pool of Ray actors, each with one
  scorer built from the driver's state (latent bank, term statistics), or
  Ray tasks for benchmark runs;
* :mod:`~anogan.engines.scoring_job`: :func:`~anogan.engines.scoring_job.score_to_file`,
  the batch job that drives an engine into a results file.

An engine turns (inputs, scorer, calibration, the positions to score) into
result rows in input order; whichever engine runs, the rows are the same.
"""
