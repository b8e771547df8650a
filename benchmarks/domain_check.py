"""What the input check alone (anogan.scoring.domain) flags: no normal test image, and every frame of no content.

    python benchmarks/domain_check.py --mnist PATH/mnist.npz --fashion PATH/fashion_mnist.npz

For each dataset and normal class, the check is fitted on 90 % of that
class's training images (as a bundle fits it on its reference images) and
applied to the held-out 10 % and to the class's test images (which it must
pass), to the other classes' test images, and to the far-off images of ``benchmarks/domain_shift.py`` plus
near-blank variants (a dark noisy frame, a few dots, a small blob). No GAN is
involved: this is the floor under every scorer. Writes
``benchmarks/results/domain_check.json`` and ``.md``.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from anogan.data.datasets import load_dataset
from anogan.data.protocol import holdout_split
from anogan.experiments.far_off import PER_KIND, domain_set
from anogan.scoring.domain import DomainCheck
from anogan.storage import write_json_atomic, write_text_atomic


def near_blank_kinds(seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    noisy = rng.integers(0, 30, (PER_KIND, 28, 28)).astype(np.uint8)
    dots = np.zeros((PER_KIND, 28, 28), np.uint8)
    for image in dots:
        image[rng.integers(0, 28, 4), rng.integers(0, 28, 4)] = 255
    blob = np.zeros((PER_KIND, 28, 28), np.uint8)
    for image in blob:
        y, x = rng.integers(4, 22, 2)
        image[y : y + 3, x : x + 3] = 255
    return {"dark noisy frame": noisy, "four dots": dots, "3x3 blob": blob}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", required=True, help="mnist.npz (Keras layout)")
    parser.add_argument("--fashion", required=True, help="fashion_mnist.npz (Keras layout)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/domain_check.json"))
    args = parser.parse_args(argv)
    far_off, _ = domain_set(None)
    far_off = {kind: images for kind, images in far_off.items() if kind != "inverted digits"}
    far_off.update(near_blank_kinds())
    report = {"per_kind": PER_KIND, "command": " ".join(["python", "benchmarks/domain_check.py", *sys.argv[1:]]),
              "flagged": {}}
    for name, path in (("mnist", args.mnist), ("fashion-mnist", args.fashion)):
        dataset = load_dataset(name, path)
        for normal in range(10):
            normals = dataset.x_train[dataset.y_train == normal]
            fit, held_out = holdout_split(len(normals), 0.1, seed=0)
            check = DomainCheck.fit(normals[fit])
            shares = {"held-out training normals": normals[held_out],
                      "test normals": dataset.x_test[dataset.y_test == normal],
                      "test anomalies": dataset.x_test[dataset.y_test != normal], **far_off}
            report["flagged"][f"{name} {normal}"] = {kind: float((check.reasons(images) != "").mean())
                                                     for kind, images in shares.items()}
    kinds = list(next(iter(report["flagged"].values())))
    lines = ["% flagged by the input check alone, fitted on 90 % of each normal class's training images "
             "(written by benchmarks/domain_check.py).", "",
             "| normal class | " + " | ".join(kinds) + " |", "|---|" + "---:|" * len(kinds)]
    for bundle, flagged in report["flagged"].items():
        lines.append(f"| {bundle} | " + " | ".join(f"{100 * flagged[k]:.1f}" for k in kinds) + " |")
    write_json_atomic(args.out, report)
    write_text_atomic(args.out.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
