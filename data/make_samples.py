"""Write the sample digit PNGs in data/samples/ from the embedded mnist-5k test split.

    python data/make_samples.py

Images come from the test split only, so no sample was ever a training
image. Subfolders are digit classes: with ``--normal 0`` the ``0/`` images
are normal and the rest are anomalies.
"""

from pathlib import Path

import numpy as np

from anogan.data import load_dataset
from anogan.images import save_image

PER_CLASS = {0: 4, **{digit: 2 for digit in range(1, 10)}}


def main() -> None:
    dataset = load_dataset("mnist-5k")
    root = Path(__file__).parent / "samples"
    for digit, count in PER_CLASS.items():
        folder = root / str(digit)
        folder.mkdir(parents=True, exist_ok=True)
        for index in np.flatnonzero(dataset.y_test == digit)[:count]:
            save_image(dataset.x_test[index], folder / f"mnist5k_test_{index:04d}.png")
    print(f"wrote {sum(PER_CLASS.values())} images under {root}")


if __name__ == "__main__":
    main()
