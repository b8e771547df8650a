"""The README's picture: input, reconstruction G(z) and residual |x - G(z)| of a few scored test images.

    python docs/make_figure.py --run runs/mnist5k-0 --out docs/main_job.png

Reads the main job's results of its recipe's method (``results_anogan.csv`` and
its maps) and shows the most anomalous anomalies, the anomaly closest to
passing, and the normal images scoring highest and lowest, each with its
score and verdict.
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from anogan.experiments.evaluation import save_figure  # noqa: E402
from anogan.data.inputs import array_item, open_input  # noqa: E402
from anogan.results.files import read_results
from anogan.results.rows import scored_mask  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("runs/mnist5k-0"))
    parser.add_argument("--method", default="anogan")
    parser.add_argument("--out", type=Path, default=Path("docs/main_job.png"))
    args = parser.parse_args(argv)
    frame = read_results(args.run / f"results_{args.method}.csv")
    frame = frame[scored_mask(frame)].sort_values("score")
    anomalies, normals = frame[frame["label"] == "anomaly"], frame[frame["label"] == "normal"]
    chosen = [*[("anomaly", r) for _, r in anomalies.tail(3)[::-1].iterrows()], ("anomaly", anomalies.iloc[0]),
              ("normal", normals.iloc[-1]), ("normal", normals.iloc[0])]
    spec = array_item(chosen[0][1]["path"])[0]
    source = open_input(spec)
    figure, axes = plt.subplots(3, len(chosen), figsize=(1.6 * len(chosen), 5.2))
    for column, (label, row) in enumerate(chosen):
        image = source.item(array_item(row["path"])[1]).image
        panels = (image, np.asarray(Image.open(args.run / row["reconstruction"])),
                  np.asarray(Image.open(args.run / row["anomaly_map"])))
        for line, (panel, name) in enumerate(zip(panels, ("input", "G(z)", "residual"))):
            axis = axes[line, column]
            axis.imshow(panel, cmap="gray" if panel.ndim == 2 else None)
            axis.set_xticks([])
            axis.set_yticks([])
            if column == 0:
                axis.set_ylabel(name)
        verdict = "flagged" if row["is_anomaly"] else "passed"
        axes[0, column].set_title(f"{label} ({row['class']})\nscore {row['score']:.2f}, {verdict}", fontsize=8)
    figure.suptitle(f"main job, {args.method}: threshold {frame['threshold'].iloc[0]:.2f}", fontsize=9)
    save_figure(figure, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
