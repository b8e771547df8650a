"""Differentiable augmentation of D's inputs during GAN training (DiffAugment, Zhao et al. 2020).

The same kind of random transform is applied to the real and the generated images each time D sees
them, in the generator's step as in the discriminator's, and gradients flow through it to G. D then
cannot tell real from fake by memorising the few thousand normal images, which is what its features
(the scorers' f) risk on a one-class training set. Policies, comma-separated:

* ``translation``: each image shifted by up to 1/8 of its size (3 pixels on 28) in each direction,
  the uncovered border black (-1);
* ``cutout``: a square of half the image's side, at a random place, set to 0 (mid-grey), as the paper does.
"""

from __future__ import annotations

AUGMENTATIONS = ("translation", "cutout")


def parse_policy(policy: str) -> tuple[str, ...]:
    """``"translation,cutout"`` to its parts, checked; ``""`` is no augmentation."""
    from anogan.errors import AnoganError

    parts = tuple(part.strip() for part in policy.split(",") if part.strip())
    unknown = sorted(set(parts) - set(AUGMENTATIONS))
    if unknown:
        raise AnoganError(f"unknown augmentation(s) {', '.join(unknown)}; choose from {', '.join(AUGMENTATIONS)}")
    return parts


class DiffAugment:
    """``augment(images)``: the policy's random transforms of a batch in [-1, 1], differentiable.

    Its random numbers come from a seeded ``tf.random.Generator`` (``state``), so a resumed run
    draws what an uninterrupted one would.

    Example:
        >>> augment = DiffAugment("translation,cutout", seed=0)  # doctest: +SKIP
        >>> augment(images).shape == images.shape  # doctest: +SKIP
        True
    """

    def __init__(self, policy: str, seed: int = 0):
        import tensorflow as tf

        self.policy = parse_policy(policy)
        self.random = tf.random.Generator.from_seed(seed + 7919)  # apart from the training noise's stream

    @property
    def state(self):
        return self.random.state

    def __call__(self, images):
        for part in self.policy:
            images = self._translate(images) if part == "translation" else self._cut_out(images)
        return images

    def _translate(self, images):
        import tensorflow as tf

        size = images.shape[1]
        reach = size // 8
        shifts = self.random.uniform([tf.shape(images)[0], 2], -reach, reach + 1, dtype=tf.int32)
        padded = tf.pad(images, [[0, 0], [reach, reach], [reach, reach], [0, 0]], constant_values=-1.0)
        positions = tf.range(size)[None, :] + reach
        rows = positions - shifts[:, :1]
        columns = positions - shifts[:, 1:]
        shifted = tf.gather(padded, rows, axis=1, batch_dims=1)
        return tf.gather(shifted, columns, axis=2, batch_dims=1)

    def _cut_out(self, images):
        import tensorflow as tf

        size = images.shape[1]
        half = size // 2
        corners = self.random.uniform([tf.shape(images)[0], 2], 0, size - half + 1, dtype=tf.int32)
        positions = tf.range(size)[None, :]
        inside_rows = (positions >= corners[:, :1]) & (positions < corners[:, :1] + half)
        inside_columns = (positions >= corners[:, 1:]) & (positions < corners[:, 1:] + half)
        cut = inside_rows[:, :, None] & inside_columns[:, None, :]
        return images * tf.cast(~cut, images.dtype)[..., None]
