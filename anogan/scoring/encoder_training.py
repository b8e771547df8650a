"""Training the f-AnoGAN encoder E (izi_f) of a bundle, with G and D frozen.

The encoder exists for the scoring methods that start from E(x)
(:func:`~anogan.scoring.methods.encoder_methods`); replacing it drops their
calibrations, which described the old one.
"""

from __future__ import annotations

import logging
from typing import Optional

import numpy as np

from anogan.data.datasets import to_model_range
from anogan.data.protocol import normal_training_images
from anogan.errors import AnoganError
from anogan.gan.bundle import (
    ENCODER_HISTORY_COLUMNS,
    Bundle,
)
from anogan.gan.callbacks import LogProgress, WriteHistory
from anogan.gan.training import run_epochs
from anogan.scoring.methods import encoder_methods

progress_log = logging.getLogger("anogan.progress")


def train_encoder(
    bundle: Bundle,
    images: Optional[np.ndarray] = None,
    epochs: int = 20,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    kappa: float = 1.0,
    seed: int = 0,
    progress: bool = True,
) -> Bundle:
    """Train the f-AnoGAN izi_f encoder with G and D frozen, and add it to the bundle.

    Loss: MSE(x, G(E(x))) + κ·MSE(f(x), f(G(E(x)))) on normal training
    images only: ``images``, else the ones stored with the bundle
    (``reference.npz``), else reloaded from the data the bundle names. Writes ``encoder.keras`` and ``encoder_history.csv``; the bundle
    drops its calibrations of the methods that use the old encoder.

    Example:
        >>> bundle = train_encoder(load_bundle("runs/demo"), epochs=5)  # doctest: +SKIP
    """
    import keras
    import tensorflow as tf

    from anogan.gan.networks import encoder_errors, make_encoder, make_feature_extractor

    if epochs < 1 or batch_size < 1:
        raise AnoganError("encoder epochs and batch size must be at least 1")
    if images is not None:
        x_train = images
    elif bundle.has_reference():
        x_train = bundle.reference_images()
    else:
        x_train = normal_training_images(bundle.metadata)
    keras.utils.set_random_seed(seed)
    encoder = make_encoder(bundle.latent_dim)
    optimizer = keras.optimizers.Adam(learning_rate)
    generator, features = bundle.generator, make_feature_extractor(bundle.discriminator)

    @tf.function
    def encoder_step(batch):
        with tf.GradientTape() as tape:
            _, _, pixel_errors, feature_errors = encoder_errors(encoder, generator, features, batch, training=True)
            residual = tf.reduce_mean(pixel_errors)
            feature = tf.reduce_mean(feature_errors)
            loss = residual + kappa * feature
        optimizer.apply_gradients(zip(tape.gradient(loss, encoder.trainable_variables), encoder.trainable_variables))
        return {"loss": loss, "residual": residual, "feature": feature}

    history = bundle.run_directory().encoder_history
    callbacks = [WriteHistory(history, ENCODER_HISTORY_COLUMNS)]
    if progress:
        callbacks.append(LogProgress("encoder", epochs))
    run_epochs(encoder_step, tf.constant(to_model_range(x_train)), batch_size, seed, epochs,
               callbacks=callbacks, name="encoder training", progress=progress)
    bundle.metadata["encoder"] = {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
                                  "kappa": kappa, "seed": seed, "n_train": len(x_train)}
    bundle.set_encoder(encoder, stale_calibrations=encoder_methods())
    return bundle
