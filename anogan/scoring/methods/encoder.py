"""The f-AnoGAN encoder score (``encoder``, izi_f of Schlegl et al. 2019).

z = E(x) in one forward pass; score = MSE(x, G(z)) + κ·MSE(f(x), f(G(z))),
with f the discriminator's feature layer. The encoder is trained by
:func:`anogan.scoring.encoder_training.train_encoder`.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from anogan.scoring.batch import ScoreBatch
from anogan.scoring.methods.base import ScoringMethod, register


@register
class EncoderMethod(ScoringMethod):
    name = "encoder"
    summary = "one forward pass of the f-AnoGAN encoder, z = E(x) (fast)"
    settings_keys = ("kappa",)
    speed_rank = 0
    needs_encoder = True

    def __init__(self, bundle, settings, features, fit_images: Optional[np.ndarray] = None,
                 state: Optional[dict] = None):
        import tensorflow as tf

        super().__init__(bundle, settings, features)
        image_batch = tf.TensorSpec([None, *bundle.metadata["image_shape"]], tf.float32)
        self._encode = tf.function(self._encode_batch, input_signature=[image_batch])

    @classmethod
    def chunk_size(cls, settings) -> int:
        return 256

    @property
    def compiled(self):
        return self._encode

    def _encode_batch(self, x):
        import tensorflow as tf

        from anogan.gan.networks import encoder_errors

        z, generated, pixel_errors, feature_errors = encoder_errors(
            self.bundle.encoder, self.bundle.generator, self.features, x)
        return tf.reduce_mean(pixel_errors, axis=[1, 2, 3]), tf.reduce_mean(feature_errors, axis=1), generated, z

    def score(self, images: np.ndarray, x: np.ndarray) -> ScoreBatch:
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
