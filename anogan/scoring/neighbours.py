"""Cosine k-nearest-neighbour search in the discriminator's feature space, compiled once."""

from __future__ import annotations

import numpy as np

from anogan.errors import AnoganError


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
