"""The DCGAN of the TensorFlow tutorial, and the f-AnoGAN encoder.

The generator and discriminator are the document's networks layer for layer.
The discriminator's flattened convolutional output (the layer named
``features``) is the feature map ``f`` used by both scorers.
"""

from __future__ import annotations

import keras
from keras import layers

LATENT_DIM = 100
IMAGE_SHAPE = (28, 28, 1)
FEATURE_LAYER = "features"


def make_generator(latent_dim: int = LATENT_DIM) -> keras.Model:
    """z (latent_dim,) -> image (28, 28, 1) in [-1, 1]."""
    return keras.Sequential(
        [
            keras.Input((latent_dim,)),
            layers.Dense(7 * 7 * 256, use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Reshape((7, 7, 256)),
            layers.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False, activation="tanh"),
        ],
        name="generator",
    )


def make_discriminator() -> keras.Model:
    """image (28, 28, 1) -> one real/fake logit."""
    return keras.Sequential(
        [
            keras.Input(IMAGE_SHAPE),
            layers.Conv2D(64, 5, strides=2, padding="same"),
            layers.LeakyReLU(),
            layers.Dropout(0.3),
            layers.Conv2D(128, 5, strides=2, padding="same"),
            layers.LeakyReLU(),
            layers.Dropout(0.3),
            layers.Flatten(name=FEATURE_LAYER),
            layers.Dense(1),
        ],
        name="discriminator",
    )


def make_feature_extractor(discriminator: keras.Model) -> keras.Model:
    """The discriminator up to its ``features`` layer: image -> (7*7*128,)."""
    return keras.Model(
        discriminator.inputs[0],
        discriminator.get_layer(FEATURE_LAYER).output,
        name="discriminator_features",
    )


def make_encoder(latent_dim: int = LATENT_DIM) -> keras.Model:
    """image (28, 28, 1) -> z (latent_dim,), mirroring the discriminator.

    f-AnoGAN ends its encoder in tanh because its GAN samples z uniformly in
    [-1, 1]; this GAN samples z ~ N(0, 1), so the last layer is linear.
    """
    return keras.Sequential(
        [
            keras.Input(IMAGE_SHAPE),
            layers.Conv2D(64, 5, strides=2, padding="same"),
            layers.LeakyReLU(),
            layers.Conv2D(128, 5, strides=2, padding="same"),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Flatten(),
            layers.Dense(latent_dim),
        ],
        name="encoder",
    )
