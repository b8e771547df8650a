"""Control for the feature-knn method: the same cosine k-NN, on raw pixels instead of f(x).

It answers "does the GAN's discriminator add anything?": if k-NN on pixels
ranked as well, the GAN would be decoration. Same one-class protocol and
split as ``anogan benchmark`` (seed 0), no training, deterministic.

    python benchmarks/pixel_knn_control.py --dataset mnist --data ../shared/data/mnist.npz

writes benchmarks/results/<dataset>/control_pixel-knn.json (AUROC per class).
"""

import argparse
import sys
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    import keras
    from sklearn.metrics import roc_auc_score

    from anogan.data.datasets import load_dataset, to_model_range
    from anogan.data.protocol import one_class_split
    from anogan.scoring.neighbours import NearestFeatures
    from anogan.storage import write_json_atomic

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data")
    parser.add_argument("--neighbours", type=int, default=5)
    parser.add_argument("--out", default=None, help="default benchmarks/results/<dataset>")
    args = parser.parse_args(argv)

    pixels = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten()])
    dataset = load_dataset(args.dataset, args.data)
    aurocs = {}
    for normal_class in range(len(dataset.class_names)):
        split = one_class_split(dataset, [normal_class], seed=0)
        nearest = NearestFeatures(pixels, to_model_range(split.x_train), args.neighbours)
        distance, _ = nearest.query(to_model_range(split.x_test))
        aurocs[str(normal_class)] = float(roc_auc_score(split.is_anomaly_test, distance))
        print(f"class {normal_class}: AUROC {100 * aurocs[str(normal_class)]:.1f}", flush=True)
    mean = float(np.mean(list(aurocs.values())))
    print(f"mean: {100 * mean:.1f}")
    out = Path(args.out or Path("benchmarks/results") / args.dataset)
    out.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/pixel_knn_control.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write_json_atomic(out / "control_pixel-knn.json", {
        "dataset": args.dataset, "method": "pixel cosine k-NN (control)", "neighbours": args.neighbours,
        "split_seed": 0, "auroc": aurocs, "mean_auroc": mean, "command": command,
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
