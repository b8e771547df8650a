"""The search half of latent inversion: how z is found for each image.

:class:`LatentInverter` is AnoGAN's search: Adam on z only, minimising
(1 - λ)·Σ|x - G(z)| + λ·Σ|f(x) - f(G(z))| for Γ steps from a starting z, with
one compiled function reused for every batch and z and the optimiser state
reset per batch. Where the search starts is the strategy:

* :class:`RestartSearch`: ``restarts`` seeded random draws, each stepped,
  the end point with the lowest loss kept (AnoGAN);
* :class:`BankSearch`: the nearest of a seeded bank of samples z ~ N(0, 1)
  in D's feature space (optionally pruned to the samples some normal
  training image is nearest to), then the steps (0 steps: a pure search);
* :class:`EncoderSearch`: z = E(x), then the steps (``hybrid``).

Every search returns :class:`~anogan.scoring.terms.InversionTerms`; how they
become a score is :mod:`anogan.scoring.terms`. Each image's random start is
drawn from a seed derived from its own pixels, so a score never depends on
the image's batch.
"""

from __future__ import annotations

import hashlib
from typing import Optional

import numpy as np

from anogan.scoring.neighbours import NearestFeatures
from anogan.scoring.terms import InversionTerms

# The latent bank's samples are a function of the settings alone, so a score stays a pure function of
# (bundle, image, settings).
LATENT_BANK_SEED = 0
# a pure bank search (0 steps) costs one D pass per image: larger batches use the two cores better
LOOKUP_BATCH = 256


def image_seed(image: np.ndarray) -> int:
    """A seed derived from an image's pixels, so its initial z never depends on its batch."""
    digest = hashlib.blake2b(np.ascontiguousarray(image, dtype=np.uint8).tobytes(), digest_size=8)
    return int.from_bytes(digest.digest(), "little")


def initial_latents(images: np.ndarray, latent_dim: int, restart: int = 0) -> np.ndarray:
    return np.stack([
        np.random.default_rng([image_seed(image), restart]).standard_normal(latent_dim)
        for image in images
    ]).astype(np.float32)


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
        _, _, generated, generated_features = self._terms(x, x_features)
        return self.final_terms(x, x_features, generated, generated_features), generated, tf.identity(self.z)

    def final_terms(self, x, x_features, generated, generated_features) -> dict:
        """Every score term of a found G(z), as tensors named like the fields of :class:`InversionTerms`."""
        import tensorflow as tf

        residual = tf.reduce_sum(tf.abs(x - generated), axis=[1, 2, 3])
        ink_x, ink_generated = (x + 1.0) / 2.0, (generated + 1.0) / 2.0
        ink = tf.maximum(tf.reduce_sum(ink_x, axis=[1, 2, 3]) + tf.reduce_sum(ink_generated, axis=[1, 2, 3]), 1e-6)
        cosine = tf.reduce_sum(
            tf.math.l2_normalize(x_features, axis=1) * tf.math.l2_normalize(generated_features, axis=1), axis=1
        )
        return {
            "residual_l1": residual,
            "residual_ink": (residual / 2.0) / ink,
            "residual_multiscale": multiscale_residual(ink_x, ink_generated) / ink,
            "residual_aligned": aligned_residual(ink_x, ink_generated) / ink,
            "feature_l1": tf.reduce_sum(tf.abs(x_features - generated_features), axis=1),
            "feature_cosine": 1.0 - cosine,
            "critic": -tf.reshape(self.critic_head(x_features), [-1]),
            "complexity": tf.image.total_variation(ink_x),
        }

    def assemble(self, x: np.ndarray, terms: dict, generated: np.ndarray, z: np.ndarray) -> InversionTerms:
        """The :class:`InversionTerms` of images ``x`` from the arrays :meth:`final_terms` and a search gave."""
        return InversionTerms(
            **terms,
            loss=(1.0 - self.lam) * terms["residual_l1"] + self.lam * terms["feature_l1"],
            reconstruction=generated[..., 0],
            anomaly_map=np.abs(x[..., 0] - generated[..., 0]),
            z=z,
        )

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
            terms, generated, z = self.compiled_inversion(chunk, chunk_z, tf.constant(steps, tf.int32))
            parts.append(self.assemble(chunk[:n], {name: t.numpy()[:n] for name, t in terms.items()},
                                       generated.numpy()[:n], z.numpy()[:n]))
        return InversionTerms.concatenate(parts)


class RestartSearch:
    """AnoGAN's search: ``restarts`` seeded random starts per image, each stepped; the lowest loss wins."""

    def __init__(self, inverter: LatentInverter, latent_dim: int, steps: int, restarts: int):
        self.inverter, self.latent_dim, self.steps, self.restarts = inverter, latent_dim, steps, restarts
        self.compiled = inverter.compiled_inversion

    def invert(self, images: np.ndarray, x: np.ndarray) -> InversionTerms:
        best = None
        for restart in range(self.restarts):
            found = self.inverter.invert(x, initial_latents(images, self.latent_dim, restart), self.steps)
            if best is None:
                best = found
            else:
                best.take(found.loss < best.loss, found)
        return best

    def state(self) -> dict:
        return {}


class BankSearch:
    """Start each z at the nearest of a seeded latent bank in D's feature space, then step.

    Args:
        size: samples z ~ N(0, 1) drawn with :data:`LATENT_BANK_SEED`.
        prune_with: normal training images (model range); when given, only
            the samples that are some image's nearest are kept: the latents G
            uses for normal data, so an anomaly cannot be matched by a sample
            that resembles no normal image.
        latents: the bank's latents as another search found them (see
            :meth:`state`), instead of drawing and pruning them again.
    """

    def __init__(self, inverter: LatentInverter, generator, features, steps: int, size: int,
                 prune_with: Optional[np.ndarray] = None, latents: Optional[np.ndarray] = None,
                 candidates: int = 1, choice: str = "best"):
        import tensorflow as tf

        self.inverter, self.features, self.steps, self.choice = inverter, features, steps, choice
        drawn = latents is None
        if drawn:
            latent_dim = int(generator.input_shape[-1])
            latents = np.random.default_rng(LATENT_BANK_SEED).standard_normal((size, latent_dim)).astype(np.float32)
        self.bank = NearestFeatures(features, _generate(generator, latents), 1)
        if drawn and prune_with is not None:
            latents = latents[np.unique(self._nearest(prune_with))]
            # built again from the kept latents alone, exactly as a process given them (``latents``) builds it,
            # so a warm start scores bit-identically
            self.bank = NearestFeatures(features, _generate(generator, latents), 1)
        self.latents = latents
        self.candidates = min(candidates, len(latents))
        self._bank_images = tf.constant(self.bank.reference)
        image_batch = tf.TensorSpec([None, *self.bank.reference.shape[1:]], tf.float32)
        self.compiled_lookup = tf.function(self._lookup_batch, input_signature=[image_batch])
        # the function that does the per-batch work, for counting its traces
        self.compiled = self.compiled_lookup if steps == 0 else inverter.compiled_inversion

    def _nearest(self, x: np.ndarray) -> np.ndarray:
        return np.concatenate([self.bank.query(x[i : i + 256])[1] for i in range(0, len(x), 256)])

    def _lookup_batch(self, x):
        """0 steps: f(x) once, its nearest bank samples, and their G(z) and f(G(z)) from the bank; of several
        candidates the lowest-loss one (``best``) or the mean of each term (``mean``; maps from the nearest)."""
        import tensorflow as tf

        x_features = self.features(x, training=False)
        count, k = tf.shape(x)[0], self.candidates
        index = self.bank.nearest_of_features(x_features, k)
        flat = tf.reshape(index, [-1])
        generated = tf.gather(self._bank_images, flat)
        terms = self.inverter.final_terms(tf.repeat(x, k, axis=0), tf.repeat(x_features, k, axis=0), generated,
                                          self.bank.features_of(flat))
        per_candidate = {name: tf.reshape(term, [count, k]) for name, term in terms.items()}
        generated = tf.reshape(generated, [count, k, *self.bank.reference.shape[1:]])
        if self.choice == "mean":
            pick = tf.zeros([count], tf.int32)
            chosen = {name: tf.reduce_mean(term, axis=1) for name, term in per_candidate.items()}
        else:
            lam = self.inverter.lam
            loss = (1.0 - lam) * per_candidate["residual_l1"] + lam * per_candidate["feature_l1"]
            pick = tf.argmin(loss, axis=1, output_type=tf.int32)
            chosen = {name: tf.gather(term, pick, batch_dims=1) for name, term in per_candidate.items()}
        chosen["critic"] = per_candidate["critic"][:, 0]  # D(x) does not depend on the candidate
        return chosen, tf.gather(generated, pick, batch_dims=1), tf.gather(index, pick, batch_dims=1)

    def invert(self, images: np.ndarray, x: np.ndarray) -> InversionTerms:
        if self.steps > 0:
            return self.inverter.invert(x, self.latents[self._nearest(x)], self.steps)
        parts = []
        for start in range(0, len(x), LOOKUP_BATCH):
            chunk = x[start : start + LOOKUP_BATCH]
            terms, generated, index = self.compiled_lookup(chunk)
            parts.append(self.inverter.assemble(chunk, {name: t.numpy() for name, t in terms.items()},
                                                generated.numpy(), self.latents[index.numpy()]))
        return InversionTerms.concatenate(parts)

    def state(self) -> dict:
        return {"bank_latents": self.latents}


class EncoderSearch:
    """f-AnoGAN's guess z = E(x), then a few AnoGAN steps (``hybrid``; 0 keeps E(x))."""

    def __init__(self, inverter: LatentInverter, encoder, steps: int):
        self.inverter, self.encoder, self.steps = inverter, encoder, steps
        self.compiled = inverter.compiled_inversion

    def invert(self, images: np.ndarray, x: np.ndarray) -> InversionTerms:
        z0 = np.concatenate([self.encoder(x[i : i + 256], training=False).numpy() for i in range(0, len(x), 256)])
        return self.inverter.invert(x, z0, self.steps)

    def state(self) -> dict:
        return {}


# The block sizes of the ``multiscale`` residual: pixels, 2×2 and 4×4 blocks (28 = 4·7, so no edge is lost).
RESIDUAL_SCALES = (1, 2, 4)
# The ``aligned`` residual tries every shift of G(z) by at most this many pixels in each direction.
ALIGN_PIXELS = 1


def multiscale_residual(ink_x, ink_generated):
    """Σ over blocks of |ink of x - ink of G(z)|, averaged over :data:`RESIDUAL_SCALES` (tensors in [0, 1]):
    ink moved within a block costs nothing at that block's scale."""
    import tensorflow as tf

    per_scale = []
    for size in RESIDUAL_SCALES:
        # average pooling times the block's area is the block's summed ink
        blocks_x = tf.nn.avg_pool2d(ink_x, size, size, "VALID") * float(size * size)
        blocks_generated = tf.nn.avg_pool2d(ink_generated, size, size, "VALID") * float(size * size)
        per_scale.append(tf.reduce_sum(tf.abs(blocks_x - blocks_generated), axis=[1, 2, 3]))
    return tf.add_n(per_scale) / float(len(RESIDUAL_SCALES))


def aligned_residual(ink_x, ink_generated):
    """Σ|ink of x - ink of G(z) shifted|, for the shift of at most :data:`ALIGN_PIXELS` that fits best (the
    frame's border filled with background)."""
    import tensorflow as tf

    reach = ALIGN_PIXELS
    height, width = ink_x.shape[1], ink_x.shape[2]
    padded = tf.pad(ink_generated, [[0, 0], [reach, reach], [reach, reach], [0, 0]])
    shifted = [
        tf.reduce_sum(tf.abs(ink_x - padded[:, dy : dy + height, dx : dx + width, :]), axis=[1, 2, 3])
        for dy in range(2 * reach + 1) for dx in range(2 * reach + 1)
    ]
    return tf.reduce_min(tf.stack(shifted, axis=1), axis=1)


def _generate(generator, latents: np.ndarray) -> np.ndarray:
    return np.concatenate([generator(latents[i : i + 512], training=False).numpy()
                           for i in range(0, len(latents), 512)])
