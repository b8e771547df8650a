"""How well a generator covers the normal images: distances and manifold metrics in a fixed feature space.

The feature space is a **fixed, seeded random convolutional network**
(:func:`feature_network`): three 3x3 stride-2 convolutions with ReLU
(32, 64, 128 channels) and a random projection to 64 numbers, its weights
drawn from NumPy's seeded generator. It never trains, needs no download
(Inception weights cannot be fetched offline) and no per-dataset file, so
it measures a user's own images the same way as MNIST, on every machine.
Randomly initialised networks have been shown to rank generators sensibly
for images unlike ImageNet (Naeem et al. 2020; Lee et al. 2022). 64
dimensions keep the covariances estimable from a few hundred validation
images.

The bundle's normal validation images are split into two disjoint halves,
A (the reference) and B; :func:`measure_generator` compares a fixed seeded
batch of ``len(B)`` generated images with A, and B with A gives the
**floor**, what a perfect generator would score with this many images:

- ``fd``: Fréchet distance between Gaussians fitted to the features;
- ``kid``: kernel inception distance, the unbiased MMD² with the cubic
  polynomial kernel (less biased than ``fd`` on small sets);
- ``precision`` / ``recall``: k-NN manifolds, k = 3 (Kynkäänniemi et al.
  2019): the share of generated images inside the real manifold (fidelity),
  and of real images inside the generated one (diversity);
- ``density`` / ``coverage``: the same with k = 5 (Naeem et al. 2020),
  robust to outliers;
- ``duplicates``: the share of generated images whose nearest generated
  neighbour is closer than 95 % of real images are to theirs (about 0.05
  for real images; 1 for a constant generator).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

FEATURE_NETWORK = "random-conv-64 (seed 0)"
FEATURE_DIM = 64
PR_NEIGHBOURS = 3
DC_NEIGHBOURS = 5
# at most this many validation images per half; the metrics cost grows with the square of it
MAX_HALF = 1000
# below this many images per half the metrics are noisy; reports say so
FEW_IMAGES = 100
# the fewest normal validation images a generator can be measured against (4 per half)
MIN_HEALTH_IMAGES = 8
DUPLICATE_QUANTILE = 0.05
GENERATION_BATCH = 256


@dataclass(frozen=True)
class GenerationMetrics:
    """The metrics of one set of images against the reference half (see the module docstring)."""

    fd: float
    kid: float
    precision: float
    recall: float
    density: float
    coverage: float
    duplicates: float
    n_images: int

    def as_row(self, prefix: str = "") -> dict:
        row = {f"{prefix}{key}": round(float(value), 5) for key, value in asdict(self).items()}
        row.pop(f"{prefix}n_images")
        return row


METRIC_NAMES = tuple(key for key in GenerationMetrics.__dataclass_fields__ if key != "n_images")


def _conv_weights(rng: np.random.Generator, channels_in: int, channels_out: int) -> np.ndarray:
    # He-normal, so activations keep their scale through the ReLUs
    return rng.normal(0.0, np.sqrt(2.0 / (9 * channels_in)), (3, 3, channels_in, channels_out)).astype(np.float32)


class FeatureNetwork:
    """The fixed random feature map; ``network(images)`` takes model-range ``(N, 28, 28, 1)`` images."""

    def __init__(self, seed: int = 0):
        import tensorflow as tf

        rng = np.random.default_rng(seed)
        channels = (1, 32, 64, 128)
        self.kernels = [tf.constant(_conv_weights(rng, a, b)) for a, b in zip(channels[:-1], channels[1:])]
        flat = 4 * 4 * channels[-1]
        self.projection = tf.constant(rng.normal(0.0, np.sqrt(1.0 / flat), (flat, FEATURE_DIM)).astype(np.float32))
        self._forward = tf.function(self._features, reduce_retracing=True)

    def _features(self, images):
        import tensorflow as tf

        x = images
        for kernel in self.kernels:
            x = tf.nn.relu(tf.nn.conv2d(x, kernel, strides=2, padding="SAME"))
        return tf.matmul(tf.reshape(x, (tf.shape(x)[0], -1)), self.projection)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, dtype=np.float32).reshape(-1, 28, 28, 1)
        parts = [self._forward(images[i : i + GENERATION_BATCH]).numpy() for i in range(0, len(images), GENERATION_BATCH)]
        return np.concatenate(parts) if parts else np.zeros((0, FEATURE_DIM), np.float32)


_NETWORK: Optional[FeatureNetwork] = None


def feature_network() -> FeatureNetwork:
    """The one feature network of this process (built once: its ``tf.function`` traces once)."""
    global _NETWORK
    if _NETWORK is None:
        _NETWORK = FeatureNetwork()
    return _NETWORK


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets; tr√(Σa Σb) through a symmetric
    form, so it stays real and stable when a covariance is singular."""
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_root = np.sqrt(np.clip(cross, 0, None)).sum()
    return float(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root)


def kernel_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Unbiased MMD² with the kernel (x·y / d + 1)³ (KID's), on the whole sets."""
    dim = a.shape[1]
    k_aa, k_bb, k_ab = ((x @ y.T / dim + 1) ** 3 for x, y in ((a, a), (b, b), (a, b)))
    m, n = len(a), len(b)
    within_a = (k_aa.sum() - np.trace(k_aa)) / (m * (m - 1))
    within_b = (k_bb.sum() - np.trace(k_bb)) / (n * (n - 1))
    return float(within_a + within_b - 2 * k_ab.mean())


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    squared = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.clip(squared, 0, None))


def _radii(within: np.ndarray, k: int) -> np.ndarray:
    """Distance from each point to its k-th nearest other point (``within`` has the self-distances)."""
    k = min(k, len(within) - 1)
    return np.sort(within, axis=1)[:, k]


def compare_features(real: np.ndarray, other: np.ndarray) -> GenerationMetrics:
    """All metrics of feature set ``other`` against the reference ``real`` (see the module docstring)."""
    real_real, other_other, real_other = _distances(real, real), _distances(other, other), _distances(real, other)
    real_pr, other_pr = _radii(real_real, PR_NEIGHBOURS), _radii(other_other, PR_NEIGHBOURS)
    real_dc = _radii(real_real, DC_NEIGHBOURS)
    inside_real = real_other <= real_pr[:, None]  # [i, j]: other j inside real i's ball
    inside_other = real_other <= other_pr[None, :]
    np.fill_diagonal(real_real, np.inf)
    np.fill_diagonal(other_other, np.inf)
    close = np.quantile(real_real.min(1), DUPLICATE_QUANTILE)
    return GenerationMetrics(
        fd=frechet_distance(real, other),
        kid=kernel_distance(real, other),
        precision=float(inside_real.any(0).mean()),
        recall=float(inside_other.any(1).mean()),
        density=float((real_other <= real_dc[:, None]).sum() / (DC_NEIGHBOURS * len(other))),
        coverage=float((real_other.min(1) <= real_dc).mean()),
        duplicates=float((other_other.min(1) < close).mean()),
        n_images=len(other),
    )


class HealthProbe:
    """Measures generators against fixed halves of a set of normal validation images.

    The halves, the noise and the floor are fixed at construction, so the
    numbers of successive epochs (or of checkpoints) are comparable.

    Args:
        validation_images: normal images in model range, ``(N, 28, 28[, 1])``; N >= 8.
        latent_dim: the generator's input size.
        seed: draws the halves and the noise.

    Example:
        >>> probe = HealthProbe(to_model_range(bundle.validation_images()), bundle.latent_dim)  # doctest: +SKIP
        >>> probe.measure(bundle.generator).recall  # doctest: +SKIP
    """

    def __init__(self, validation_images: np.ndarray, latent_dim: int, seed: int = 0):
        from anogan.errors import AnoganError

        images = np.asarray(validation_images, dtype=np.float32).reshape(-1, 28, 28, 1)
        if len(images) < MIN_HEALTH_IMAGES:
            raise AnoganError(f"measuring a generator needs at least {MIN_HEALTH_IMAGES} normal validation images, "
                              f"got {len(images)}")
        rng = np.random.default_rng([seed, 28])
        order = rng.permutation(len(images))
        half = min(len(images) // 2, MAX_HALF)
        self.reference = feature_network()(images[order[:half]])
        self.held_out = feature_network()(images[order[half : 2 * half]])
        self.noise = rng.standard_normal((half, latent_dim)).astype(np.float32)
        self.floor = compare_features(self.reference, self.held_out)

    @property
    def few_images(self) -> bool:
        return len(self.reference) < FEW_IMAGES

    def generate(self, generator) -> np.ndarray:
        """The fixed noise's images (model range)."""
        parts = [generator(self.noise[i : i + GENERATION_BATCH], training=False).numpy()
                 for i in range(0, len(self.noise), GENERATION_BATCH)]
        return np.concatenate(parts)

    def measure(self, generator) -> GenerationMetrics:
        return self.measure_images(self.generate(generator))

    def measure_images(self, images: np.ndarray) -> GenerationMetrics:
        """The metrics of any image set (model range) against the reference half."""
        return compare_features(self.reference, feature_network()(images))


def collapse_reasons(metrics: GenerationMetrics) -> list[str]:
    """Why one measurement alone says the generator has collapsed (empty when it does not)."""
    reasons = []
    if metrics.duplicates >= 0.5:
        reasons.append(f"{metrics.duplicates:.0%} of samples are near-duplicates of another sample")
    if metrics.recall < 0.1 and metrics.coverage < 0.1:
        reasons.append(f"samples cover almost none of the normal images (recall {metrics.recall:.2f}, "
                       f"coverage {metrics.coverage:.2f})")
    return reasons
