"""Anomaly scorers: AnoGAN latent inversion, f-AnoGAN encoder, hybrid, and feature k-NN.

Every scorer maps a batch of ``uint8`` images to one :class:`ScoreBatch`
with the same fields, so the CLI, the dashboard and the evaluation share one
schema:

* ``score``: the anomaly score, higher = more anomalous;
* ``residual_score`` and ``discrimination_score``: its two terms;
* ``reconstruction``: G(z) in [-1, 1] (``feature-knn``: the nearest normal image);
* ``anomaly_map``: |x - reconstruction| per pixel, the localisation map;
* ``z``: the latent code found for the image (NaN for ``feature-knn``, which searches none).

Methods:

``anogan`` (Schlegl et al. 2017)
    Search z so that G(z) matches x by minimising
    (1 - λ)·Σ|x - G(z)| + λ·Σ|f(x) - f(G(z))| with Adam on z only, for
    Γ steps; f is the discriminator's feature layer. The score is the same
    combination at the last step. z starts at ``restarts`` random draws (the
    best end point is kept) or, with ``latent_bank`` N, at the nearest of N
    seeded samples z ~ N(0, 1): the one whose G(z) the discriminator sees
    most like x (cosine of f(x) and f(G(z))), so 0 steps is a pure search.
    ``prune_bank`` keeps only the samples that are some normal training
    image's nearest: the part of G's range that normal data uses.
``encoder`` (f-AnoGAN izi_f, Schlegl et al. 2019)
    z = E(x) in one forward pass; score = MSE(x, G(z)) + κ·MSE(f(x), f(G(z))).
``hybrid``
    z initialised by E(x), then a few AnoGAN steps (0 keeps E(x)); scored like ``anogan``.

``anogan`` and ``hybrid`` always search z with AnoGAN's loss; how the two
terms are *scored* is a setting (:class:`ScoringSettings`): the residual
``l1`` or divided by the ink (``ink``), the feature distance ``l1`` or
``cosine``, optionally standardised on normal validation images, and
optionally a third, standardised term: the discriminator's own verdict on x,
-D(x) (:func:`combine_terms`). The defaults are the paper's.
``feature-knn``
    Not in the papers: the mean cosine distance between f(x) and its k
    nearest neighbours among the features of the normal training images
    stored with the bundle (k = 5). Cosine rather than Euclidean because
    the feature magnitude grows with the amount of ink, which is what makes
    pixel residuals favour thin digits. ``residual_score`` is the mean
    |x - nearest normal image|, reported for reading, not part of the score.

A score is a pure function of (bundle, image, settings): G and D run with
``training=False``, each image's initial z is drawn from a seed derived from
its own pixels, and the loss is a sum of per-image terms, so an image's
score does not depend on the other images in its batch or on their order.
The inversion step is compiled once per scorer and reused for every batch;
z and the optimiser state are reset for each batch.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from typing import Optional

import numpy as np

from anogan.artifacts import ENCODER_METHODS
from anogan.data import to_model_range
from anogan.domain import DomainCheck
from anogan.errors import AnoganError

METHODS = ("anogan", "encoder", "hybrid", "feature-knn")
INVERSION_METHODS = ("anogan", "hybrid")
# The latent bank's samples are a function of the settings alone, so a score stays a pure function of
# (bundle, image, settings).
LATENT_BANK_SEED = 0
RESIDUALS = ("l1", "ink")
FEATURE_DISTANCES = ("l1", "cosine")
INVERSION_SCORE_SETTINGS = ("residual", "feature_distance", "standardize", "critic_weight")
STANDARDIZED_TERMS = ("residual_l1", "residual_ink", "feature_l1", "feature_cosine", "critic")


def check_methods(methods) -> list[str]:
    """``methods`` as a list, or an error naming the first unknown one."""
    methods = [methods] if isinstance(methods, str) else list(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise AnoganError(f"unknown method {unknown[0]!r}; choose from {', '.join(METHODS)}")
    return methods


def available_methods(bundle) -> list[str]:
    """The methods ``bundle`` can score with, fastest first."""
    fastest_first = ("encoder", "feature-knn", "hybrid", "anogan")
    return [m for m in fastest_first
            if (m not in ENCODER_METHODS or bundle.encoder is not None)
            and (m != "feature-knn" or bundle.has_reference())]


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
        kappa: κ, weight of the feature term of ``encoder`` (f-AnoGAN: 1).
        neighbours: k, normal training images compared with by ``feature-knn``.
        residual: the inversion score's residual term: ``l1`` (AnoGAN's
            Σ|x - G(z)|) or ``ink`` (the same divided by the ink of x and
            G(z), so thin and thick digits are judged alike).
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
    kappa: float = 1.0
    neighbours: int = 5
    residual: str = "l1"
    feature_distance: str = "l1"
    standardize: bool = False
    critic_weight: float = 0.0
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
        for name in ("restarts", "neighbours", "batch_size"):
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
        if self.critic_weight < 0:
            raise AnoganError(f"critic weight must be >= 0, got {self.critic_weight}")
        if self.critic_weight and not self.standardize:
            raise AnoganError("the critic term is only defined on standardised terms; add standardize")

    def relevant_to(self, method: str) -> dict:
        """The settings that change ``method``'s scores (what a calibration must match)."""
        keys = {
            "anogan": ("lam", "steps", "learning_rate", "restarts", "latent_bank", "prune_bank")
                  + INVERSION_SCORE_SETTINGS,
            "encoder": ("kappa",),
            "hybrid": ("lam", "hybrid_steps", "learning_rate") + INVERSION_SCORE_SETTINGS,
            "feature-knn": ("neighbours",),
        }[method]
        return {key: getattr(self, key) for key in keys}

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
    "kappa": ("--kappa", "weight of the feature term of the encoder score"),
    "neighbours": ("--neighbours", "normal training images the feature-knn method compares with"),
    "residual": ("--residual", "residual term of the anogan/hybrid score: l1 (AnoGAN) or ink (over the ink)"),
    "feature_distance": ("--feature-distance",
                         "discrimination term of the anogan/hybrid score: l1 (AnoGAN) or cosine"),
    "standardize": ("--standardize", "standardise the anogan/hybrid score terms on normal validation images"),
    "critic_weight": ("--critic-weight",
                      "weight of the discriminator's verdict -D(x) in the standardised anogan/hybrid score"),
    "batch_size": ("--score-batch-size", "images per inversion batch (speed only)"),
    "jit_compile": ("--score-xla", "compile the inversion with XLA"),
}
SETTING_CHOICES = {"residual": RESIDUALS, "feature_distance": FEATURE_DISTANCES}


@dataclass
class ScoreBatch:
    """Scores of a batch of images; every array has the batch as first axis.

    ``reason`` says why an image is not of the trained kind at all
    (:mod:`anogan.domain`), ``""`` where it may be; :meth:`Scorer.score` fills it.
    """

    score: np.ndarray
    residual_score: np.ndarray
    discrimination_score: np.ndarray
    reconstruction: np.ndarray
    anomaly_map: np.ndarray
    z: np.ndarray
    reason: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.score)

    @staticmethod
    def concatenate(parts: list["ScoreBatch"]) -> "ScoreBatch":
        return ScoreBatch(**{
            f.name: None if any(getattr(p, f.name) is None for p in parts)
            else np.concatenate([getattr(p, f.name) for p in parts])
            for f in fields(ScoreBatch)
        })


def image_seed(image: np.ndarray) -> int:
    """A seed derived from an image's pixels, so its initial z never depends on its batch."""
    digest = hashlib.blake2b(np.ascontiguousarray(image, dtype=np.uint8).tobytes(), digest_size=8)
    return int.from_bytes(digest.digest(), "little")


def initial_latents(images: np.ndarray, latent_dim: int, restart: int = 0) -> np.ndarray:
    return np.stack([
        np.random.default_rng([image_seed(image), restart]).standard_normal(latent_dim)
        for image in images
    ]).astype(np.float32)


@dataclass
class InversionTerms:
    """What a latent inversion found for a batch of images, before its terms are combined into a score.

    Attributes:
        residual_l1: Σ|x - G(z)| (AnoGAN's residual loss).
        residual_ink: Σ|x - G(z)| over the ink of x and G(z) (pixels mapped
            to [0, 1]): the share of the ink that does not match, in [0, 1].
        feature_l1: Σ|f(x) - f(G(z))| (AnoGAN's discrimination loss).
        feature_cosine: 1 - cos(f(x), f(G(z))).
        critic: -D(x), the discriminator's logit for x negated (does not
            depend on z).
        loss: the inversion's own objective at the last step,
            (1 - λ)·residual_l1 + λ·feature_l1.
        reconstruction: G(z) in [-1, 1], ``(N, 28, 28)``.
        anomaly_map: |x - G(z)|, ``(N, 28, 28)``.
        z: the latent codes found.
    """

    residual_l1: np.ndarray
    residual_ink: np.ndarray
    feature_l1: np.ndarray
    feature_cosine: np.ndarray
    critic: np.ndarray
    loss: np.ndarray
    reconstruction: np.ndarray
    anomaly_map: np.ndarray
    z: np.ndarray

    def take(self, better: np.ndarray, other: "InversionTerms") -> None:
        """Replace this batch's entries where ``better`` is true by ``other``'s."""
        for f in fields(InversionTerms):
            getattr(self, f.name)[better] = getattr(other, f.name)[better]

    @staticmethod
    def concatenate(parts: list["InversionTerms"]) -> "InversionTerms":
        return InversionTerms(**{
            f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(InversionTerms)
        })


def fit_term_stats(terms: InversionTerms) -> dict:
    """Mean and standard deviation of each score term on normal images (for ``standardize``)."""
    stats = {}
    for name in STANDARDIZED_TERMS:
        values = np.asarray(getattr(terms, name), dtype=np.float64)
        if len(values) < 2:
            raise AnoganError("standardising the score terms needs at least two normal validation images")
        stats[name] = (float(values.mean()), float(max(values.std(), 1e-12)))
    return stats


def combine_terms(terms: InversionTerms, settings: ScoringSettings, stats: Optional[dict] = None) -> ScoreBatch:
    """The inversion score (1 - λ)·residual + λ·discrimination, from the terms ``settings`` name.

    With ``settings.standardize`` each term is first standardised with
    ``stats`` (from :func:`fit_term_stats` on normal validation images).
    The reported ``residual_score`` and ``discrimination_score`` are the raw terms.
    """
    residual_name = "residual_ink" if settings.residual == "ink" else "residual_l1"
    feature_name = "feature_cosine" if settings.feature_distance == "cosine" else "feature_l1"
    residual, feature = getattr(terms, residual_name), getattr(terms, feature_name)
    score = (1.0 - settings.lam) * residual + settings.lam * feature
    if settings.standardize:
        if stats is None:
            raise AnoganError("standardised scores need the term statistics of normal validation images")

        def standardized(name):
            return (getattr(terms, name) - stats[name][0]) / stats[name][1]

        score = (1.0 - settings.lam) * standardized(residual_name) + settings.lam * standardized(feature_name)
        if settings.critic_weight:
            score = score + settings.critic_weight * standardized("critic")
    return ScoreBatch(
        score=score.astype(np.float32),
        residual_score=residual,
        discrimination_score=feature,
        reconstruction=terms.reconstruction,
        anomaly_map=terms.anomaly_map,
        z=terms.z,
    )


class LatentInverter:
    """Batched AnoGAN inversion with one compiled function reused for every batch.

    Args:
        generator, feature_extractor: G and f, always called with ``training=False``.
        critic_head: D's logit layer (f(x) -> logit), for the ``critic`` term.
        lam: λ of the loss.
        learning_rate: Adam learning rate on z.
        batch_size: the fixed batch the function is compiled for; shorter
            batches are padded, so it is traced once.
        jit_compile: compile with XLA.
    """

    def __init__(self, generator, feature_extractor, critic_head, lam, learning_rate, batch_size,
                 jit_compile=False):
        import keras
        import tensorflow as tf

        self.generator = generator
        self.feature_extractor = feature_extractor
        self.critic_head = critic_head
        self.lam = float(lam)
        self.batch_size = int(batch_size)
        latent_dim = int(generator.input_shape[-1])
        self.z = tf.Variable(tf.zeros([self.batch_size, latent_dim]), name="latent_code")
        self.optimizer = keras.optimizers.Adam(learning_rate)
        self.optimizer.build([self.z])
        self._optimizer_state = [v for v in self.optimizer.variables if "learning_rate" not in v.path]
        self.compiled_inversion = tf.function(self._invert_batch, jit_compile=jit_compile)

    def _terms(self, x, x_features):
        import tensorflow as tf

        generated = self.generator(self.z, training=False)
        generated_features = self.feature_extractor(generated, training=False)
        residual = tf.reduce_sum(tf.abs(x - generated), axis=[1, 2, 3])
        discrimination = tf.reduce_sum(tf.abs(x_features - generated_features), axis=1)
        return residual, discrimination, generated, generated_features

    def _invert_batch(self, x, z0, steps):
        import tensorflow as tf

        self.z.assign(z0)
        for variable in self._optimizer_state:
            variable.assign(tf.zeros_like(variable))
        x_features = self.feature_extractor(x, training=False)
        for _ in tf.range(steps):
            with tf.GradientTape() as tape:
                residual, discrimination, _, _ = self._terms(x, x_features)
                loss = tf.reduce_sum((1.0 - self.lam) * residual + self.lam * discrimination)
            self.optimizer.apply_gradients([(tape.gradient(loss, self.z), self.z)])
        residual, discrimination, generated, generated_features = self._terms(x, x_features)
        ink = tf.reduce_sum((x + 1.0) / 2.0, axis=[1, 2, 3]) + tf.reduce_sum((generated + 1.0) / 2.0, axis=[1, 2, 3])
        residual_ink = (residual / 2.0) / tf.maximum(ink, 1e-6)
        cosine = tf.reduce_sum(
            tf.math.l2_normalize(x_features, axis=1) * tf.math.l2_normalize(generated_features, axis=1), axis=1
        )
        critic = -tf.reshape(self.critic_head(x_features), [-1])
        return residual, residual_ink, discrimination, 1.0 - cosine, critic, generated, tf.identity(self.z)

    def invert(self, x: np.ndarray, z0: np.ndarray, steps: int) -> InversionTerms:
        """Invert images ``x`` (model range, ``(N, 28, 28, 1)``) from latents ``z0``."""
        import tensorflow as tf

        parts = []
        for start in range(0, len(x), self.batch_size):
            chunk, chunk_z = x[start : start + self.batch_size], z0[start : start + self.batch_size]
            n = len(chunk)
            pad = self.batch_size - n
            if pad:
                chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), np.float32)])
                chunk_z = np.concatenate([chunk_z, np.zeros((pad, chunk_z.shape[1]), np.float32)])
            residual, residual_ink, discrimination, cosine, critic, generated, z = (
                t.numpy()[:n] for t in self.compiled_inversion(chunk, chunk_z, tf.constant(steps, tf.int32))
            )
            parts.append(InversionTerms(
                residual_l1=residual,
                residual_ink=residual_ink,
                feature_l1=discrimination,
                feature_cosine=cosine,
                critic=critic,
                loss=(1.0 - self.lam) * residual + self.lam * discrimination,
                reconstruction=generated[..., 0],
                anomaly_map=np.abs(chunk[:n, ..., 0] - generated[..., 0]),
                z=z,
            ))
        return InversionTerms.concatenate(parts)


class NearestFeatures:
    """Cosine k-nearest-neighbour distance to reference images in a feature space.

    The reference features are computed once, unit-normalised, at
    construction; each query is one compiled matmul and top-k. ``feature-knn``
    uses the normal training images as references, the ``latent_bank``
    search the generator's samples.

    Args:
        feature_extractor: f, called with ``training=False``.
        reference: reference images in the model range, ``(M, 28, 28, 1)``.
        neighbours: k.
        unit_features: the references' unit-normalised features, when
            already computed (see :meth:`subset`).
    """

    def __init__(self, feature_extractor, reference: np.ndarray, neighbours: int, unit_features=None):
        import tensorflow as tf

        if len(reference) < neighbours:
            raise AnoganError(f"a {neighbours}-nearest-neighbour search needs at least {neighbours} reference "
                              f"images, got {len(reference)}")
        self.feature_extractor = feature_extractor
        self.neighbours = int(neighbours)
        self.reference = np.asarray(reference, np.float32)
        if unit_features is None:
            unit_features = tf.concat([self._unit_features(self.reference[i : i + 512])
                                       for i in range(0, len(self.reference), 512)], axis=0)
        self._bank = unit_features
        image_batch = tf.TensorSpec([None, *self.reference.shape[1:]], tf.float32)
        self.compiled_query = tf.function(self._query_batch, input_signature=[image_batch])

    def _unit_features(self, x):
        import tensorflow as tf

        return tf.math.l2_normalize(self.feature_extractor(x, training=False), axis=1)

    def _query_batch(self, x):
        import tensorflow as tf

        similarity = tf.matmul(self._unit_features(x), self._bank, transpose_b=True)
        nearest, index = tf.math.top_k(similarity, k=self.neighbours)
        return 1.0 - tf.reduce_mean(nearest, axis=1), index[:, 0]

    def subset(self, index: np.ndarray) -> "NearestFeatures":
        """The same search over the references at ``index`` only, reusing their features."""
        import tensorflow as tf

        return NearestFeatures(self.feature_extractor, self.reference[index], self.neighbours,
                               tf.gather(self._bank, index))

    def query(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distances and nearest reference index of images ``x`` (model range, ``(N, 28, 28, 1)``)."""
        distance, index = (t.numpy() for t in self.compiled_query(x))
        return distance, index


class Scorer:
    """Scores images with one method of one bundle.

    Build it once and call :meth:`score` for every batch: the compiled
    functions are created here, not per call. With ``standardize``, the
    terms' statistics are fitted on ``fit_images`` (default: the bundle's
    normal validation images), or taken as given in ``term_stats`` (another
    scorer's, e.g. the driver's on a Ray worker).

    Example:
        >>> scorer = Scorer(load_bundle("runs/demo"), "encoder")  # doctest: +SKIP
        >>> scorer.score(images).score.shape  # doctest: +SKIP
        (16,)
    """

    def __init__(self, bundle, method: str, settings: Optional[ScoringSettings] = None,
                 fit_images: Optional[np.ndarray] = None, term_stats: Optional[dict] = None):
        import tensorflow as tf

        check_methods(method)
        self.settings = settings or ScoringSettings()
        needs_reference = method == "feature-knn" or (method == "anogan" and self.settings.prune_bank)
        if needs_reference and not bundle.has_reference():
            raise AnoganError(
                f"{'the feature-knn method' if method == 'feature-knn' else 'pruning the latent bank'} needs "
                f"the normal training images in the bundle; "
                f"{bundle.path} was saved without them (retrain it, or score it through 'anogan score', "
                f"which adds them from the training data)"
            )
        if method in ENCODER_METHODS and bundle.encoder is None:
            raise AnoganError(
                f"the {method} method needs an encoder; train one with "
                f"'anogan train-encoder --model {bundle.path}'"
            )
        from anogan.models import logit_layer, make_feature_extractor

        self.bundle = bundle
        self.method = method
        self.domain = DomainCheck.fit(bundle.reference_images() if bundle.has_reference()
                                      else bundle.validation_images())
        self.feature_extractor = make_feature_extractor(bundle.discriminator)
        self.latent_dim = bundle.latent_dim
        if method in ("anogan", "hybrid"):
            self._inverter = LatentInverter(
                bundle.generator, self.feature_extractor, logit_layer(bundle.discriminator), self.settings.lam,
                self.settings.learning_rate, self.settings.batch_size, self.settings.jit_compile,
            )
        if method == "feature-knn":
            self._nearest = NearestFeatures(self.feature_extractor, to_model_range(bundle.reference_images()),
                                            self.settings.neighbours)
        if method == "anogan" and self.settings.latent_bank:
            self._build_bank()
        self.term_stats: Optional[dict] = term_stats
        if method in INVERSION_METHODS and self.settings.standardize and term_stats is None:
            normals = bundle.validation_images() if fit_images is None else fit_images
            self.term_stats = fit_term_stats(self.invert(normals))
        # the one compiled function that does this method's work, built here and reused for every batch
        if method == "encoder":
            image_batch = tf.TensorSpec([None, *bundle.metadata["image_shape"]], tf.float32)
            self._compiled = self._encode = tf.function(self._encode_batch, input_signature=[image_batch])
        elif method == "feature-knn":
            self._compiled = self._nearest.compiled_query
        else:
            self._compiled = self._inverter.compiled_inversion

    def _build_bank(self) -> None:
        latents = np.random.default_rng(LATENT_BANK_SEED).standard_normal(
            (self.settings.latent_bank, self.latent_dim)).astype(np.float32)
        samples = np.concatenate([self.bundle.generator(latents[i : i + 512], training=False).numpy()
                                  for i in range(0, len(latents), 512)])
        self._bank = NearestFeatures(self.feature_extractor, samples, 1)
        if self.settings.prune_bank:
            normals = to_model_range(self.bundle.reference_images())
            used = np.unique(np.concatenate([self._bank.query(normals[i : i + 256])[1]
                                             for i in range(0, len(normals), 256)]))
            latents, self._bank = latents[used], self._bank.subset(used)
        self._bank_latents = latents

    def traces(self) -> int:
        """How often this scorer's compiled function was traced: 1 once it has scored, whatever the batch sizes."""
        return self._compiled.experimental_get_tracing_count()

    def _encode_batch(self, x):
        import tensorflow as tf

        from anogan.models import encoder_errors

        z, generated, pixel_errors, feature_errors = encoder_errors(
            self.bundle.encoder, self.bundle.generator, self.feature_extractor, x)
        return tf.reduce_mean(pixel_errors, axis=[1, 2, 3]), tf.reduce_mean(feature_errors, axis=1), generated, z

    def score(self, images: np.ndarray) -> ScoreBatch:
        """Score ``uint8`` images ``(N, 28, 28)``; see :class:`ScoreBatch`."""
        images = np.asarray(images)
        if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
            raise AnoganError(f"expected uint8 images of shape (N, 28, 28), got {images.dtype} {images.shape}")
        x = to_model_range(images)
        if len(x) == 0:
            empty = np.zeros((0,), np.float32)
            maps = np.zeros((0, 28, 28), np.float32)
            batch = ScoreBatch(empty, empty, empty, maps, maps, np.zeros((0, self.latent_dim), np.float32))
        elif self.method == "encoder":
            batch = self._score_encoder(x)
        elif self.method == "feature-knn":
            batch = self._score_feature_knn(x)
        else:
            batch = combine_terms(self.invert(images), self.settings, self.term_stats)
        batch.reason = self.domain.reasons(images)
        return batch

    def invert(self, images: np.ndarray) -> InversionTerms:
        """The latent inversion of ``uint8`` images ``(N, 28, 28)`` (``anogan`` and ``hybrid`` only).

        :meth:`score` combines these terms; the dev benchmark reuses one
        inversion for every way of combining them.
        """
        if self.method not in INVERSION_METHODS:
            raise AnoganError(f"the {self.method} method does not invert the generator")
        x = to_model_range(images)
        if self.method == "anogan":
            return self._invert_anogan(images, x)
        encoder = self.bundle.encoder
        z0 = np.concatenate([encoder(x[i : i + 256], training=False).numpy() for i in range(0, len(x), 256)])
        return self._inverter.invert(x, z0, self.settings.hybrid_steps)

    def _score_encoder(self, x: np.ndarray) -> ScoreBatch:
        parts = []
        for start in range(0, len(x), 256):
            chunk = x[start : start + 256]
            residual, feature, generated, z = (t.numpy() for t in self._encode(chunk))
            parts.append(ScoreBatch(
                score=residual + self.settings.kappa * feature,
                residual_score=residual,
                discrimination_score=feature,
                reconstruction=generated[..., 0],
                anomaly_map=np.abs(chunk[..., 0] - generated[..., 0]),
                z=z,
            ))
        return ScoreBatch.concatenate(parts)

    def _score_feature_knn(self, x: np.ndarray) -> ScoreBatch:
        parts = []
        for start in range(0, len(x), 256):
            chunk = x[start : start + 256]
            distance, index = self._nearest.query(chunk)
            nearest = self._nearest.reference[index][..., 0]
            difference = np.abs(chunk[..., 0] - nearest)
            parts.append(ScoreBatch(
                score=distance,
                residual_score=difference.mean(axis=(1, 2)),
                discrimination_score=distance,
                reconstruction=nearest,
                anomaly_map=difference,
                z=np.full((len(chunk), self.latent_dim), np.nan, np.float32),
            ))
        return ScoreBatch.concatenate(parts)

    def _invert_anogan(self, images: np.ndarray, x: np.ndarray) -> InversionTerms:
        if self.settings.latent_bank:
            nearest = np.concatenate([self._bank.query(x[i : i + 256])[1] for i in range(0, len(x), 256)])
            return self._inverter.invert(x, self._bank_latents[nearest], self.settings.steps)
        best = None
        for restart in range(self.settings.restarts):
            result = self._inverter.invert(x, initial_latents(images, self.latent_dim, restart), self.settings.steps)
            if best is None:
                best = result
            else:
                best.take(result.loss < best.loss, result)
        return best
