"""Results: one row schema for every scored input, and the results file (CSV or Parquet).

* :mod:`~anogan.results.rows`: :data:`~anogan.results.rows.RESULT_COLUMNS`;
  scored inputs to rows (with the bundle's threshold and verdict), maps as
  PNGs, uploads scored in memory;
* :mod:`~anogan.results.files`: the results file written chunk by chunk and
  resumed with exactly one row per input; reading it back typed; finding results.

Input: a scorer, a calibration and inputs. Engines (:mod:`anogan.engines`)
decide where the rows are computed; the rows are the same.
"""
