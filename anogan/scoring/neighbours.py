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
    """

    def __init__(self, feature_extractor, reference: np.ndarray, neighbours: int):
        import tensorflow as tf

        if len(reference) < neighbours:
            raise AnoganError(f"a {neighbours}-nearest-neighbour search needs at least {neighbours} reference "
                              f"images, got {len(reference)}")
        self.feature_extractor = feature_extractor
        self.neighbours = int(neighbours)
        self.reference = np.asarray(reference, np.float32)
        parts = [self._unit_features_and_norms(self.reference[i : i + 512]) for i in range(0, len(self.reference), 512)]
        self._bank, self._norms = (tf.concat(list(p), axis=0) for p in zip(*parts))
        image_batch = tf.TensorSpec([None, *self.reference.shape[1:]], tf.float32)
        self.compiled_query = tf.function(self._query_batch, input_signature=[image_batch])

    def _unit_features(self, x):
        import tensorflow as tf

        return tf.math.l2_normalize(self.feature_extractor(x, training=False), axis=1)

    def _unit_features_and_norms(self, x):
        import tensorflow as tf

        features = self.feature_extractor(x, training=False)
        return tf.math.l2_normalize(features, axis=1), tf.norm(features, axis=1)

    def nearest_of_features(self, features, k: int = 1):
        """The indices ``(N, k)`` of each row's k nearest references, nearest first, from already computed
        features (a tensor op)."""
        import tensorflow as tf

        similarity = tf.matmul(tf.math.l2_normalize(features, axis=1), self._bank, transpose_b=True)
        return tf.math.top_k(similarity, k=k).indices

    def features_of(self, index):
        """The references' features at ``index`` (a tensor op): unit features times their norms."""
        import tensorflow as tf

        return tf.gather(self._bank, index) * tf.gather(self._norms, index)[:, None]

    def _query_batch(self, x):
        import tensorflow as tf

        similarity = tf.matmul(self._unit_features(x), self._bank, transpose_b=True)
        nearest, index = tf.math.top_k(similarity, k=self.neighbours)
        return 1.0 - tf.reduce_mean(nearest, axis=1), index[:, 0]

    def query(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distances and nearest reference index of images ``x`` (model range, ``(N, 28, 28, 1)``)."""
        distance, index = (t.numpy() for t in self.compiled_query(x))
        return distance, index
