import numpy as np

from anogan.gan.networks import make_discriminator, make_encoder, make_feature_extractor, make_generator


def test_generator_maps_latent_to_images_in_tanh_range():
    generator = make_generator(100)
    images = generator(np.random.default_rng(0).standard_normal((3, 100)).astype("float32"), training=False)
    assert images.shape == (3, 28, 28, 1)
    assert float(np.abs(images).max()) <= 1.0


def test_discriminator_gives_one_logit_and_exposes_features():
    discriminator = make_discriminator()
    images = np.zeros((2, 28, 28, 1), dtype="float32")
    assert discriminator(images, training=False).shape == (2, 1)
    features = make_feature_extractor(discriminator)
    assert features(images).shape == (2, 7 * 7 * 128)
    assert features.layers[-1].name == "features"


def test_document_architecture_layer_for_layer():
    generator = make_generator(100)
    kinds = [type(layer).__name__ for layer in generator.layers]
    assert kinds == [
        "Dense", "BatchNormalization", "LeakyReLU", "Reshape",
        "Conv2DTranspose", "BatchNormalization", "LeakyReLU",
        "Conv2DTranspose", "BatchNormalization", "LeakyReLU",
        "Conv2DTranspose",
    ]
    assert generator.layers[0].units == 7 * 7 * 256
    assert [layer.filters for layer in generator.layers if type(layer).__name__ == "Conv2DTranspose"] == [128, 64, 1]
    discriminator = make_discriminator()
    convs = [layer for layer in discriminator.layers if type(layer).__name__ == "Conv2D"]
    assert [(c.filters, c.kernel_size, c.strides) for c in convs] == [(64, (5, 5), (2, 2)), (128, (5, 5), (2, 2))]
    assert [layer.rate for layer in discriminator.layers if type(layer).__name__ == "Dropout"] == [0.3, 0.3]


def test_encoder_maps_images_to_latent():
    assert make_encoder(16)(np.zeros((4, 28, 28, 1), dtype="float32")).shape == (4, 16)
