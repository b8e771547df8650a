"""User-facing errors.

Anything the user can fix (a missing file, a bad option, a damaged bundle)
raises :class:`AnoganError` with a one-line message; the CLI prints it
without a traceback.
"""


class AnoganError(Exception):
    """An error caused by the user's input or environment, with a readable message."""


class ImageError(AnoganError):
    """An image file could not be decoded into a 28x28 grayscale array."""


class TrainingStopped(AnoganError):
    """Training stopped because it went unhealthy (a collapse under ``--stop-on-collapse``, or divergence)."""


class TrainingDiverged(TrainingStopped):
    """A loss became NaN or infinite; ``epoch`` is the epoch it happened in."""

    def __init__(self, message: str, epoch: int):
        super().__init__(message)
        self.epoch = epoch
