"""User-facing errors.

Anything the user can fix (a missing file, a bad option, a damaged bundle)
raises :class:`AnoganError` with a one-line message; the CLI prints it
without a traceback.
"""


class AnoganError(Exception):
    """An error caused by the user's input or environment, with a readable message."""


class ImageError(AnoganError):
    """An image file could not be decoded into a 28x28 grayscale array."""
