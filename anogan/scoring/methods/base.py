"""The contract every scoring method keeps, and the registry that collects them."""

from __future__ import annotations

from typing import ClassVar, Optional

import numpy as np

from anogan.errors import AnoganError

_REGISTRY: dict[str, type["ScoringMethod"]] = {}


class ScoringMethod:
    """One way of turning a bundle and a batch of images into a :class:`~anogan.scoring.batch.ScoreBatch`.

    A subclass names itself and the settings that change its scores, says
    what it needs from a bundle, and is built once per (bundle, settings):
    its heavy state (compiled functions, banks of latents or features, term
    statistics) is made in ``__init__``, or taken from ``state`` (what
    :meth:`state` of another instance returned, e.g. the driver's on a Ray
    worker), and reused for every batch.

    Class attributes:
        name: the method's name on the command line and in results files.
        summary: what it does, in a phrase, for help texts.
        settings_keys: the :class:`~anogan.scoring.settings.ScoringSettings`
            fields that change this method's scores (what a calibration must match).
        speed_rank: order of the method in lists that put the fastest first.
        needs_encoder: scores only a bundle with an f-AnoGAN encoder.
        inverts: searches a latent code (and so offers :meth:`invert`).
        reference_symbol, reference_caption: what ``ScoreBatch.reconstruction`` is, for displays.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    settings_keys: ClassVar[tuple[str, ...]]
    speed_rank: ClassVar[int]
    needs_encoder: ClassVar[bool] = False
    inverts: ClassVar[bool] = False
    reference_symbol: ClassVar[str] = "G(z)"
    reference_caption: ClassVar[str] = "reconstruction G(z)"

    def __init__(self, bundle, settings, features, fit_images: Optional[np.ndarray] = None,
                 state: Optional[dict] = None):
        self.bundle, self.settings, self.features = bundle, settings, features

    @classmethod
    def needs_reference(cls, settings) -> bool:
        """Whether scoring with ``settings`` needs the bundle's normal training images (``reference.npz``)."""
        return False

    @classmethod
    def is_slow(cls, settings) -> bool:
        """Whether scoring with ``settings`` takes seconds per image (the benchmark then scores a fixed subset)."""
        return False

    @classmethod
    def chunk_size(cls, settings) -> int:
        """Images per call in a batch job (speed only)."""
        return settings.batch_size

    @property
    def compiled(self):
        """The one ``tf.function`` that does this method's work per batch."""
        raise NotImplementedError

    def score(self, images: np.ndarray, x: np.ndarray):
        """Score ``uint8`` images ``(N, 28, 28)``, also given in the model range ``x`` ``(N, 28, 28, 1)``."""
        raise NotImplementedError

    def state(self) -> dict:
        """The heavy state built here, as plain arrays and numbers, to build the same method elsewhere."""
        return {}


def register(cls: type[ScoringMethod]) -> type[ScoringMethod]:
    """Class decorator: make a scoring method known by its ``name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise AnoganError(f"two scoring methods are called {cls.name!r}")
    _REGISTRY[cls.name] = cls
    return cls


def registered() -> dict[str, type[ScoringMethod]]:
    """Every registered method by name, fastest first."""
    return dict(sorted(_REGISTRY.items(), key=lambda item: item[1].speed_rank))
