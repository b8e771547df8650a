"""Scoring settings: every option a method reads, with its flag, declared once.

Settings are one frozen dataclass: a flag such as ``--lam`` means the same
for every method that reads it. Each method names the fields that change its
scores (``settings_keys`` of its class in :mod:`anogan.scoring.methods`);
those are what a stored calibration must match and what a recipe records.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Optional

from anogan.errors import AnoganError

RESIDUALS = ("l1", "ink", "multiscale", "aligned")
FEATURE_DISTANCES = ("l1", "cosine")
BANK_CHOICES = ("best", "mean")


@dataclass(frozen=True)
class ScoringSettings:
    """Scorer settings (defaults follow the papers where they say).

    Attributes:
        lam: λ, weight of the discrimination term (AnoGAN: 0.1).
        steps: Γ, inversion steps of ``anogan``.
        hybrid_steps: inversion steps of ``hybrid`` after the encoder's guess.
        learning_rate: Adam learning rate on z.
        restarts: z initialisations per image for ``anogan``; the best is kept.
        latent_bank: when above 0, ``anogan`` starts each z at the nearest
            of this many seeded samples z ~ N(0, 1) in the discriminator's
            feature space (cosine of f(x) and f(G(z))) instead of at
            ``restarts`` random draws. The samples and their features are
            computed once per scorer.
        prune_bank: keep only the bank samples that are the nearest of at
            least one normal training image stored with the bundle (same
            search): the latents G uses for normal data, so an anomaly cannot
            be matched by a sample that resembles no normal image.
        bank_candidates: with 0 steps, compare x with this many nearest bank
            samples instead of one (see ``bank_choice``).
        bank_choice: of those candidates, keep the one with the lowest
            AnoGAN loss (``best``) or average each term over them (``mean``,
            a k-NN score among generated samples; maps from the nearest).
        kappa: κ, weight of the feature term of ``encoder`` (f-AnoGAN: 1).
        neighbours: k, normal training images compared with by ``feature-knn``.
        residual: the inversion score's residual term: ``l1`` (AnoGAN's
            Σ|x - G(z)|) or ``ink`` (the same divided by the ink of x and
            G(z), so thin and thick digits are judged alike), ``multiscale``
            (the ink residual averaged over pixels, 2×2 and 4×4 blocks) or
            ``aligned`` (the ink residual after the best shift of G(z) by at
            most one pixel).
        feature_distance: the inversion score's discrimination term: ``l1``
            (AnoGAN's Σ|f(x) - f(G(z))|) or ``cosine`` (1 - cos(f(x), f(G(z))),
            blind to the feature magnitude, which grows with ink).
        standardize: combine the two terms after standardising each on the
            normal validation images (mean 0, standard deviation 1), as
            f-AnoGAN does, so λ weighs comparable quantities.
        critic_weight: μ, weight of a third term added to the standardised
            score: the discriminator's verdict on x itself, -D(x) (its logit,
            negated so that "looks generated" is high), standardised like the
            others. 0 (default) keeps the two-term score.
        complexity_weight: ν, weight of the standardised complexity of x (the
            total variation of its ink, capped at the largest among the
            normal validation images), subtracted from the standardised
            score: a complexity baseline, so that texture alone does not
            make an image anomalous nor plainness normal. 0 (default): off.
        batch_size: images per inversion batch (speed only, never the scores).
        jit_compile: compile the inversion with XLA.
    """

    lam: float = 0.1
    steps: int = 500
    hybrid_steps: int = 30
    learning_rate: float = 0.02
    restarts: int = 1
    latent_bank: int = 0
    prune_bank: bool = False
    bank_candidates: int = 1
    bank_choice: str = "best"
    kappa: float = 1.0
    neighbours: int = 5
    residual: str = "l1"
    feature_distance: str = "l1"
    standardize: bool = False
    critic_weight: float = 0.0
    complexity_weight: float = 0.0
    batch_size: int = 64
    jit_compile: bool = False

    def __post_init__(self):
        if self.residual not in RESIDUALS:
            raise AnoganError(f"residual must be one of {', '.join(RESIDUALS)}, got {self.residual!r}")
        if self.feature_distance not in FEATURE_DISTANCES:
            raise AnoganError(f"feature distance must be one of {', '.join(FEATURE_DISTANCES)}, "
                              f"got {self.feature_distance!r}")
        if not 0.0 <= self.lam <= 1.0:
            raise AnoganError(f"lambda must be in [0, 1], got {self.lam}")
        for name in ("steps", "hybrid_steps"):
            if getattr(self, name) < 0:
                raise AnoganError(f"{name.replace('_', ' ')} must be >= 0, got {getattr(self, name)}")
        if self.bank_choice not in BANK_CHOICES:
            raise AnoganError(f"bank choice must be one of {', '.join(BANK_CHOICES)}, got {self.bank_choice!r}")
        if self.bank_candidates > 1 and (not self.latent_bank or self.steps):
            raise AnoganError("several bank candidates need a latent bank searched with 0 steps")
        for name in ("restarts", "neighbours", "batch_size", "bank_candidates"):
            if getattr(self, name) < 1:
                raise AnoganError(f"{name.replace('_', ' ')} must be >= 1, got {getattr(self, name)}")
        if self.latent_bank < 0:
            raise AnoganError(f"latent bank must be >= 0, got {self.latent_bank}")
        if self.latent_bank and self.restarts > 1:
            raise AnoganError("a latent bank replaces random restarts; use one or the other")
        if self.prune_bank and not self.latent_bank:
            raise AnoganError("pruning the latent bank needs a latent bank (latent_bank > 0)")
        if self.learning_rate <= 0 or self.kappa < 0:
            raise AnoganError("learning rate must be > 0 and kappa >= 0")
        for name in ("critic_weight", "complexity_weight"):
            if getattr(self, name) < 0:
                raise AnoganError(f"{name.replace('_', ' ')} must be >= 0, got {getattr(self, name)}")
            if getattr(self, name) and not self.standardize:
                raise AnoganError(f"the {name.split('_')[0]} term is only defined on standardised terms; "
                                  "add standardize")

    def relevant_to(self, method: str) -> dict:
        """The settings that change ``method``'s scores (what a calibration must match)."""
        from anogan.scoring.methods import get_method

        return {key: getattr(self, key) for key in get_method(method).settings_keys}

    def as_flags(self, base: Optional["ScoringSettings"] = None) -> list[str]:
        """The command-line flags that turn ``base`` (default: the defaults) into these settings.

        Example:
            >>> ScoringSettings(lam=0.7).as_flags()
            ['--lam', '0.7']
            >>> ScoringSettings().as_flags(base=ScoringSettings(standardize=True))
            ['--no-standardize']
        """
        base = base or ScoringSettings()
        words = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value == getattr(base, f.name):
                continue
            flag = SETTING_FLAGS[f.name][0]
            if isinstance(value, bool):
                words.append(flag if value else "--no-" + flag[2:])
            else:
                words += [flag, str(value)]
        return words

    @classmethod
    def from_dict(cls, values: dict) -> "ScoringSettings":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


# The command-line flag and help of every scoring setting, declared once: the CLI builds its
# options from this table and the benchmark writes its reproducible commands with it.
SETTING_FLAGS = {
    "lam": ("--lam", "lambda, weight of the discrimination term"),
    "steps": ("--steps", "inversion steps of the anogan method"),
    "hybrid_steps": ("--hybrid-steps", "inversion steps of the hybrid method"),
    "learning_rate": ("--inversion-lr", "Adam learning rate on z"),
    "restarts": ("--restarts", "z initialisations per image, anogan method"),
    "latent_bank": ("--latent-bank", "anogan method: start z at the nearest of this many sampled latents "
                    "(D-feature cosine) instead of random restarts"),
    "prune_bank": ("--prune-bank", "anogan method: keep only the latent bank's samples that are the nearest of "
                   "some normal training image stored with the bundle"),
    "bank_candidates": ("--bank-candidates", "anogan method, latent bank with 0 steps: compare x with this many "
                        "nearest bank samples"),
    "bank_choice": ("--bank-choice", "with several bank candidates: keep the lowest-loss one (best) or average "
                    "the terms (mean)"),
    "kappa": ("--kappa", "weight of the feature term of the encoder score"),
    "neighbours": ("--neighbours", "normal training images the feature-knn method compares with"),
    "residual": ("--residual", "residual term of the anogan/hybrid score: l1 (AnoGAN), ink (over the ink), "
                 "multiscale (ink over pixels, 2x2 and 4x4 blocks) or aligned (ink after the best 1-pixel shift)"),
    "feature_distance": ("--feature-distance",
                         "discrimination term of the anogan/hybrid score: l1 (AnoGAN) or cosine"),
    "standardize": ("--standardize", "standardise the anogan/hybrid score terms on normal validation images"),
    "critic_weight": ("--critic-weight",
                      "weight of the discriminator's verdict -D(x) in the standardised anogan/hybrid score"),
    "complexity_weight": ("--complexity-weight", "weight of x's complexity (total variation), subtracted from the "
                          "standardised anogan/hybrid score (a complexity baseline)"),
    "batch_size": ("--score-batch-size", "images per inversion batch (speed only)"),
    "jit_compile": ("--score-xla", "compile the inversion with XLA"),
}
SETTING_CHOICES = {"residual": RESIDUALS, "feature_distance": FEATURE_DISTANCES, "bank_choice": BANK_CHOICES}
