"""DiffAugment: D's inputs shifted and cut out, differentiably, from a seeded stream."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from anogan.errors import AnoganError  # noqa: E402
from anogan.gan.augment import DiffAugment, parse_policy  # noqa: E402


def _square(size=28):
    """A white 6x6 square in the middle of a black frame, in [-1, 1]."""
    image = -np.ones((1, size, size, 1), np.float32)
    image[0, 11:17, 11:17] = 1.0
    return tf.constant(np.repeat(image, 16, axis=0))


def test_translation_shifts_the_content_by_at_most_3_pixels_onto_black():
    shifted = DiffAugment("translation", seed=0)(_square()).numpy()
    assert shifted.shape == (16, 28, 28, 1)
    for image in shifted:
        rows, columns = np.nonzero(image[..., 0] > 0)
        assert (rows.max() - rows.min(), columns.max() - columns.min()) == (5, 5)  # moved, not cut or stretched
        assert abs(rows.min() - 11) <= 3 and abs(columns.min() - 11) <= 3
        assert set(np.unique(image)) <= {-1.0, 1.0}
    assert len({tuple(np.argwhere(image[..., 0] > 0)[0]) for image in shifted}) > 1  # per image, not per batch


def test_cutout_zeroes_one_square_of_half_the_side():
    cut = DiffAugment("cutout", seed=0)(_square()).numpy()
    for image in cut:
        assert (image == 0).sum() == 14 * 14


def test_gradients_flow_through_the_augmentation_and_the_seed_fixes_the_draws():
    images = tf.Variable(_square())
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(DiffAugment("translation,cutout", seed=1)(images))
    gradient = tape.gradient(loss, images).numpy()
    assert gradient.any() and set(np.unique(gradient)) <= {0.0, 1.0}
    first = DiffAugment("translation,cutout", seed=1)(_square()).numpy()
    again = DiffAugment("translation,cutout", seed=1)(_square()).numpy()
    assert np.array_equal(first, again)


def test_policies_are_checked():
    assert parse_policy("translation, cutout") == ("translation", "cutout")
    assert parse_policy("") == ()
    with pytest.raises(AnoganError, match="flip"):
        parse_policy("translation,flip")
