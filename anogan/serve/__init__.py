"""Serving: an HTTP scoring API for machines (``anogan serve``), one warm scorer per process.

* :mod:`~anogan.serve.batcher`: concurrent requests' images scored together in one scorer call, on
  one thread (a short queue, a maximum batch and a maximum wait), also for threaded callers such as
  the dashboard's sessions (``BackgroundBatcher``);
* :mod:`~anogan.serve.service`: a bundle's calibrated scorer behind the batcher, and what the API
  says about the model;
* :mod:`~anogan.serve.app`: the FastAPI app: ``/healthz``, ``/readyz``, ``/v1/model`` and
  ``/v1/score`` (multipart files or JSON base64 images), a bearer token when asked for, and limits on
  body size, file count, pixels and time;
* :mod:`~anogan.serve.ray_serve`: the same app as a Ray Serve deployment of N replicas
  (``anogan serve --engine ray``), ``@serve.batch`` doing the micro-batching;
* :mod:`~anogan.serve.process`: ``anogan serve`` in a child process on a free loopback port (tests and
  the load script).

Answers carry the row schema of ``anogan score``, computed by the same library functions, so a file
scores the same through the API as in a batch job. Nothing here reads or writes a path a client chose.
"""
