"""Far-off inputs: seeded sets of 28x28 images that no normal class of MNIST or Fashion-MNIST looks like.

Uniform and Gaussian noise, blank and white frames, filled shapes, printed
letters, inverted digits and, given its data, Fashion-MNIST test images:
what a bundle should flag at its threshold, not only rank higher
(``benchmarks/domain_shift.py``, ``benchmarks/domain_check.py``).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from anogan.data.datasets import load_dataset

PER_KIND = 200
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def _drawn(draw_one, rng) -> tuple[np.ndarray, list]:
    """PER_KIND images drawn by ``draw_one`` and what it returned for each."""
    images, drawn = [], []
    for _ in range(PER_KIND):
        canvas = Image.new("L", (28, 28), 0)
        drawn.append(draw_one(ImageDraw.Draw(canvas), rng))
        images.append(np.asarray(canvas))
    return np.stack(images), drawn


def _shape(draw: ImageDraw.ImageDraw, rng) -> None:
    x0, y0 = rng.integers(2, 12, size=2)
    x1, y1 = rng.integers(16, 26, size=2)
    box = [int(x0), int(y0), int(x1), int(y1)]
    (draw.rectangle if rng.random() < 0.5 else draw.ellipse)(box, fill=int(rng.integers(128, 256)))


def _letter(draw: ImageDraw.ImageDraw, rng) -> str:
    font = ImageFont.load_default(size=22)
    letter = LETTERS[int(rng.integers(len(LETTERS)))]
    draw.text((int(rng.integers(3, 8)), int(rng.integers(0, 4))), letter, fill=255, font=font)
    return letter


def domain_set(fashion: str | None, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The far-off images by kind, and the letter printed in each image of "letters"."""
    rng = np.random.default_rng(seed)
    digits = load_dataset("mnist-5k").x_test
    # drawn in this order, from one generator: every kind's images are those of earlier results
    kinds = {
        "uniform noise": rng.integers(0, 256, (PER_KIND, 28, 28), dtype=np.uint8),
        "gaussian noise": np.clip(rng.normal(127, 60, (PER_KIND, 28, 28)), 0, 255).astype(np.uint8),
        "blank": np.zeros((PER_KIND, 28, 28), np.uint8) + rng.integers(0, 20, (PER_KIND, 1, 1), dtype=np.uint8),
        "white": np.full((PER_KIND, 28, 28), 255, np.uint8) - rng.integers(0, 20, (PER_KIND, 1, 1), dtype=np.uint8),
        "shapes": _drawn(_shape, rng)[0],
    }
    kinds["letters"], letter_names = _drawn(_letter, rng)
    kinds["inverted digits"] = 255 - digits[rng.choice(len(digits), PER_KIND, replace=False)]
    if fashion:
        clothes = load_dataset("fashion-mnist", fashion).x_test
        kinds["fashion-mnist"] = clothes[rng.choice(len(clothes), PER_KIND, replace=False)]
    return kinds, np.array(letter_names)
