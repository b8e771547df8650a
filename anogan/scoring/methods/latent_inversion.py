"""AnoGAN latent inversion (``anogan``, Schlegl et al. 2017) and its encoder-started variant (``hybrid``).

Both find z with G(z) ≈ x (a search, :mod:`anogan.scoring.inversion`) and
score the terms of what they found (:mod:`anogan.scoring.terms`):

``anogan``
    z starts at ``restarts`` seeded random draws (the best end point is
    kept) or, with ``latent_bank`` N, at the nearest of N seeded samples in
    D's feature space (``prune_bank``: only the samples some normal
    training image is nearest to), then Γ = ``steps`` Adam steps on z.
``hybrid``
    z starts at the f-AnoGAN encoder's guess E(x), then ``hybrid_steps`` steps.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from anogan.data.datasets import to_model_range
from anogan.scoring.inversion import BankSearch, EncoderSearch, LatentInverter, RestartSearch
from anogan.scoring.methods.base import ScoringMethod, register
from anogan.scoring.terms import InversionTerms, TermCombination, fit_term_stats

SCORE_KEYS = ("lam", "residual", "feature_distance", "standardize", "critic_weight", "complexity_weight")


class InversionMethod(ScoringMethod):
    """A search for z plus a combination of the terms it finds; the term statistics are fitted on normal images."""

    inverts = True

    def __init__(self, bundle, settings, features, fit_images: Optional[np.ndarray] = None,
                 state: Optional[dict] = None):
        from anogan.gan.networks import logit_layer

        super().__init__(bundle, settings, features)
        state = state or {}
        self.inverter = LatentInverter(bundle.generator, features, logit_layer(bundle.discriminator), settings.lam,
                                       settings.learning_rate, settings.batch_size, settings.jit_compile)
        self.search = self.make_search(state)
        self.combination = TermCombination.from_settings(settings)
        self.term_stats: Optional[dict] = state.get("term_stats")
        if self.combination.standardize and self.term_stats is None:
            normals = bundle.validation_images() if fit_images is None else fit_images
            self.term_stats = fit_term_stats(self.invert(normals))

    def make_search(self, state: dict):
        raise NotImplementedError

    @classmethod
    def search_key(cls, settings) -> tuple:
        """What the inversion of ``settings`` depends on: settings with equal keys find the same z and terms."""
        raise NotImplementedError

    @property
    def compiled(self):
        return self.search.compiled

    def invert(self, images: np.ndarray) -> InversionTerms:
        """The terms of the inversion of ``uint8`` images ``(N, 28, 28)``, before they are combined."""
        return self.search.invert(images, to_model_range(images))

    def score(self, images: np.ndarray, x: np.ndarray):
        return self.combination.combine(self.search.invert(images, x), self.term_stats)

    def state(self) -> dict:
        return {**self.search.state(), "term_stats": self.term_stats}


@register
class AnoganMethod(InversionMethod):
    name = "anogan"
    summary = ("AnoGAN latent inversion (the recommended recipe's: a search among sampled latents, fast; the "
               "paper's 500 steps per image: slow on CPU)")
    settings_keys = ("steps", "learning_rate", "restarts", "latent_bank", "prune_bank", "bank_candidates",
                     "bank_choice") + SCORE_KEYS
    speed_rank = 3

    @classmethod
    def needs_reference(cls, settings) -> bool:
        return settings is not None and settings.prune_bank

    @classmethod
    def is_slow(cls, settings) -> bool:
        return settings.steps > 0

    @classmethod
    def search_key(cls, settings) -> tuple:
        # λ weighs the loss that steps descend and that picks the best restart; a pure bank search ignores it
        several = settings.bank_candidates > 1
        uses_loss = settings.steps > 0 or settings.restarts > 1 or (several and settings.bank_choice == "best")
        return (cls.name, settings.steps, settings.learning_rate, settings.restarts, settings.latent_bank,
                settings.prune_bank, settings.lam if uses_loss else None,
                (settings.bank_candidates, settings.bank_choice) if several else None)

    def make_search(self, state: dict):
        settings = self.settings
        if not settings.latent_bank:
            return RestartSearch(self.inverter, self.bundle.latent_dim, settings.steps, settings.restarts)
        prune_with = to_model_range(self.bundle.reference_images()) if settings.prune_bank else None
        return BankSearch(self.inverter, self.bundle.generator, self.features, settings.steps,
                          settings.latent_bank, prune_with=prune_with, latents=state.get("bank_latents"),
                          candidates=settings.bank_candidates, choice=settings.bank_choice)


@register
class HybridMethod(InversionMethod):
    name = "hybrid"
    summary = "the encoder's guess plus a few inversion steps"
    settings_keys = ("hybrid_steps", "learning_rate") + SCORE_KEYS
    speed_rank = 2
    needs_encoder = True

    @classmethod
    def search_key(cls, settings) -> tuple:
        return (cls.name, settings.hybrid_steps, settings.learning_rate,
                settings.lam if settings.hybrid_steps > 0 else None)

    def make_search(self, state: dict):
        return EncoderSearch(self.inverter, self.bundle.encoder, self.settings.hybrid_steps)
