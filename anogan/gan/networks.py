"""The DCGAN of the TensorFlow tutorial, and the f-AnoGAN encoder.

The generator and discriminator are the document's networks layer for layer.
The discriminator's flattened convolutional output (the layer named
``features``) is the feature map ``f`` used by both scorers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: Keras loads inside the builders
    import keras

# Keras is imported inside the builders, so that importing this module (for its constants) stays instant.

LATENT_DIM = 100
IMAGE_SHAPE = (28, 28, 1)
FEATURE_LAYER = "features"
PRECISIONS = ("float32", "mixed_bfloat16")
# The discriminator's architecture: the document's, twice the first layer's filters (wide), either with spectral
# normalisation of every weight layer (Miyato et al. 2018), candidates measured against the document's.
DISCRIMINATORS = ("document", "wide", "spectral", "wide-spectral")


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        from anogan.errors import AnoganError

        raise AnoganError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")


def make_generator(latent_dim: int = LATENT_DIM, precision: str = "float32") -> keras.Model:
    """z (latent_dim,) -> image (28, 28, 1) in [-1, 1].

    ``precision="mixed_bfloat16"`` computes the hidden layers in bfloat16
    (weights stay float32) and the output layer in float32: a training speed
    option, measured against the float32 default in the README.
    """
    import keras
    from keras import layers

    check_precision(precision)
    hidden = {"dtype": precision}
    return keras.Sequential(
        [
            keras.Input((latent_dim,)),
            layers.Dense(7 * 7 * 256, use_bias=False, **hidden),
            layers.BatchNormalization(**hidden),
            layers.LeakyReLU(**hidden),
            layers.Reshape((7, 7, 256), **hidden),
            layers.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False, **hidden),
            layers.BatchNormalization(**hidden),
            layers.LeakyReLU(**hidden),
            layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False, **hidden),
            layers.BatchNormalization(**hidden),
            layers.LeakyReLU(**hidden),
            layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False, activation="tanh",
                                   dtype="float32"),
        ],
        name="generator",
    )


def check_discriminator(kind: str) -> None:
    if kind not in DISCRIMINATORS:
        from anogan.errors import AnoganError

        raise AnoganError(f"unknown discriminator {kind!r}; choose one of {', '.join(DISCRIMINATORS)}")


def make_discriminator(precision: str = "float32", kind: str = "document") -> keras.Model:
    """image (28, 28, 1) -> one real/fake logit (see :func:`make_generator` for ``precision``).

    ``kind`` (:data:`DISCRIMINATORS`): ``document`` is the seed document's network; ``wide`` doubles
    the first convolution's filters (128) and keeps the second's, so f(x) keeps its 6,272 numbers
    (and a latent bank its size); ``spectral`` wraps each convolution and the logit layer in Keras'
    ``SpectralNormalization``. The features f(x) are the flattened last convolution in every kind.
    """
    import keras
    from keras import layers

    check_precision(precision)
    check_discriminator(kind)
    hidden = {"dtype": precision}
    first_filters = 128 if kind.startswith("wide") else 64

    def weighted(layer):
        return layers.SpectralNormalization(layer, dtype=layer.dtype_policy) if kind.endswith("spectral") else layer

    return keras.Sequential(
        [
            keras.Input(IMAGE_SHAPE),
            weighted(layers.Conv2D(first_filters, 5, strides=2, padding="same", **hidden)),
            layers.LeakyReLU(**hidden),
            layers.Dropout(0.3, **hidden),
            weighted(layers.Conv2D(128, 5, strides=2, padding="same", **hidden)),
            layers.LeakyReLU(**hidden),
            layers.Dropout(0.3, **hidden),
            layers.Flatten(name=FEATURE_LAYER, dtype="float32"),
            weighted(layers.Dense(1, dtype="float32")),
        ],
        name="discriminator",
    )


def as_float32(model: keras.Model, builder, *args) -> keras.Model:
    """A float32 copy of a (possibly mixed-precision) model, built by ``builder(*args)``.

    Mixed-precision models keep float32 weights, so the copy is exact; scoring
    then always runs in float32 whatever precision trained the model.
    """
    copy = builder(*args)
    copy.set_weights(model.get_weights())
    return copy


def make_feature_extractor(discriminator: keras.Model) -> keras.Model:
    """The discriminator up to its ``features`` layer: image -> (7*7*128,)."""
    import keras

    return keras.Model(
        discriminator.inputs[0],
        discriminator.get_layer(FEATURE_LAYER).output,
        name="discriminator_features",
    )


def logit_layer(discriminator: keras.Model):
    """D's last layer, which turns f(x) into D's real/fake logit."""
    return discriminator.layers[-1]


def make_encoder(latent_dim: int = LATENT_DIM) -> keras.Model:
    """image (28, 28, 1) -> z (latent_dim,), mirroring the discriminator.

    f-AnoGAN ends its encoder in tanh because its GAN samples z uniformly in
    [-1, 1]; this GAN samples z ~ N(0, 1), so the last layer is linear.
    """
    import keras
    from keras import layers

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


def encoder_errors(encoder, generator, feature_extractor, x, training: bool = False):
    """The f-AnoGAN izi_f errors of images ``x``: z = E(x), G(z), (x - G(z))² and (f(x) - f(G(z)))².

    Written once for both encoder training (``training=True`` for E) and
    scoring; G and f always run in inference mode.
    """
    import tensorflow as tf

    z = encoder(x, training=training)
    generated = generator(z, training=False)
    pixel_errors = tf.square(x - generated)
    feature_errors = tf.square(feature_extractor(x, training=False) - feature_extractor(generated, training=False))
    return z, generated, pixel_errors, feature_errors
