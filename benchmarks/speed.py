"""Speed of training and scoring, measured against naive baselines in the same process.

    python benchmarks/speed.py --out benchmarks/results/speed.json [--model RUN_DIR]

Same data (the embedded mnist-5k normal digit 0 and its test split) and the
same weights for every contender. Ratios are what to read: absolute img/s
vary between runs on shared CPUs. With ``--model`` (a bundle with an
encoder) the scoring contenders use its weights and also report AUROC on the
same labelled test images, so no speed is bought with hidden quality loss.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

import anogan  # noqa: F401
from anogan.data.datasets import load_dataset, to_model_range
from anogan.data.protocol import one_class_split


def timed(function, repeats: int = 1) -> float:
    started = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - started) / repeats


def training_speed(images: np.ndarray, batch_size: int, steps: int) -> dict:
    """img/s of one train step: plain eager, the document's tf.function, XLA, and the bfloat16 option."""
    import keras
    import tensorflow as tf

    from anogan.gan.networks import make_discriminator, make_generator
    from anogan.gan.trainer import GANTrainer

    batch = tf.constant(to_model_range(images[:batch_size]))
    result = {}
    for mode in ("eager", "graph", "xla", "mixed_bfloat16"):
        keras.utils.set_random_seed(0)
        precision = "mixed_bfloat16" if mode == "mixed_bfloat16" else "float32"
        trainer = GANTrainer(make_generator(100, precision), make_discriminator(precision), seed=0,
                             jit_compile=(mode == "xla"))
        step = trainer._train_step if mode == "eager" else trainer.train_step
        step(batch)  # trace / compile and warm up outside the timing
        seconds = timed(lambda: step(batch), steps)
        result[mode] = batch_size / seconds
    return result


def naive_inversion(generator, features, images: np.ndarray, steps: int, lam: float, learning_rate: float) -> np.ndarray:
    """AnoGAN as public ports write it: one image at a time, a new optimiser per image, eager steps."""
    import keras
    import tensorflow as tf

    scores = []
    for image in to_model_range(images):
        x = tf.constant(image[None])
        z = tf.Variable(tf.random.normal([1, generator.input_shape[-1]]))
        optimizer = keras.optimizers.Adam(learning_rate)
        for _ in range(steps):
            with tf.GradientTape() as tape:
                generated = generator(z, training=False)
                residual = tf.reduce_sum(tf.abs(x - generated))
                discrimination = tf.reduce_sum(tf.abs(features(x, training=False) - features(generated, training=False)))
                loss = (1 - lam) * residual + lam * discrimination
            optimizer.apply_gradients([(tape.gradient(loss, z), z)])
        scores.append(float(loss))
    return np.array(scores)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON file for the measurements")
    parser.add_argument("--model", help="a bundle with an encoder: use its weights and report AUROC")
    parser.add_argument("--train-steps", type=int, default=8)
    parser.add_argument("--steps", type=int, default=500, help="inversion steps (Γ)")
    parser.add_argument("--invert-images", type=int, default=64, help="images for the batched inversion")
    parser.add_argument("--naive-images", type=int, default=2, help="images for the naive per-image loop")
    args = parser.parse_args()

    import tensorflow as tf
    from sklearn.metrics import roc_auc_score

    from anogan.gan.bundle import Bundle, load_bundle
    from anogan.gan.networks import make_discriminator, make_encoder, make_feature_extractor, make_generator
    from anogan.scoring.scorer import Scorer
    from anogan.scoring.settings import ScoringSettings

    dataset = load_dataset("mnist-5k")
    split = one_class_split(dataset, [0])
    test_order = np.random.default_rng(0).permutation(len(split.x_test))
    if args.model:
        bundle = load_bundle(args.model)
    else:
        import keras

        keras.utils.set_random_seed(0)
        bundle = Bundle(path=Path("."), metadata={"latent_dim": 100, "image_shape": [28, 28, 1],
                                                  "normal_classes": [0], "class_names": list(dataset.class_names),
                                                  "files": {}},
                        generator=make_generator(), discriminator=make_discriminator(), encoder=make_encoder())
    report = {"machine": {"processor": platform.processor() or platform.machine(), "cores": __import__("os").cpu_count(),
                          "tensorflow": tf.__version__},
              "weights": args.model or "random (seeded)", "steps": args.steps}

    print("training …", flush=True)
    training = training_speed(split.x_train, 256, args.train_steps)
    report["training_img_per_s"] = training
    report["training_ratio_vs_eager"] = training["graph"] / training["eager"]

    def measure(method, settings, images):
        scorer = Scorer(bundle, method, settings)
        scorer.score(images[: settings.batch_size])  # trace outside the timing
        started = time.perf_counter()
        scores = scorer.score(images).score
        return len(images) / (time.perf_counter() - started), scores

    many = split.x_test[test_order[:1000]]
    few = split.x_test[test_order[: args.invert_images]]
    print("encoder scoring …", flush=True)
    encoder_rate, encoder_scores = measure("encoder", ScoringSettings(), many)
    print("hybrid scoring …", flush=True)
    hybrid_rate, hybrid_scores = measure("hybrid", ScoringSettings(), few)
    print(f"batched inversion, {args.invert_images} images x {args.steps} steps …", flush=True)
    invert_rate, invert_scores = measure("anogan", ScoringSettings(steps=args.steps, batch_size=64), few)
    print("inversion with and without XLA, 16 images x 100 steps …", flush=True)
    short_graph, _ = measure("anogan", ScoringSettings(steps=100, batch_size=16), few[:16])
    short_xla, _ = measure("anogan", ScoringSettings(steps=100, batch_size=16, jit_compile=True), few[:16])
    print(f"naive per-image inversion, {args.naive_images} images x {args.steps} steps …", flush=True)
    naive_seconds = timed(lambda: naive_inversion(bundle.generator, make_feature_extractor(bundle.discriminator),
                                                  few[: args.naive_images], args.steps, 0.1, 0.02))
    naive_rate = args.naive_images / naive_seconds
    report["scoring_img_per_s"] = {"encoder": encoder_rate, "hybrid": hybrid_rate, "anogan_batched": invert_rate,
                                   "anogan_naive_loop": naive_rate, "anogan_100_steps": short_graph,
                                   "anogan_100_steps_xla": short_xla}
    report["inversion_ratio_vs_naive"] = invert_rate / naive_rate
    if args.model:
        anomaly = split.is_anomaly_test[test_order]
        report["auroc"] = {
            "encoder (1000 images)": roc_auc_score(anomaly[:1000], encoder_scores),
            f"hybrid ({len(few)} images)": roc_auc_score(anomaly[: len(few)], hybrid_scores),
            f"anogan ({len(few)} images)": roc_auc_score(anomaly[: len(few)], invert_scores),
        }
    report["targets"] = {
        "encoder scoring >= 500 img/s": encoder_rate >= 500,
        "inversion >= 20x the naive loop": report["inversion_ratio_vs_naive"] >= 20,
        "training >= 2x the eager train_step (default float32)": report["training_ratio_vs_eager"] >= 2,
        "training >= 2x the eager train_step (mixed_bfloat16 option)":
            training["mixed_bfloat16"] / training["eager"] >= 2,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    print("\n| measurement | img/s | ratio |\n|---|---:|---:|")
    print(f"| training, plain eager train_step (batch 256) | {training['eager']:.0f} | 1.00 |")
    print(f"| training, document's tf.function step (project default) | {training['graph']:.0f} | "
          f"{training['graph'] / training['eager']:.2f} |")
    print(f"| training, XLA | {training['xla']:.0f} | {training['xla'] / training['eager']:.2f} |")
    print(f"| training, --precision mixed_bfloat16 option | {training['mixed_bfloat16']:.0f} | "
          f"{training['mixed_bfloat16'] / training['eager']:.2f} |")
    print(f"| encoder scoring | {encoder_rate:.0f} | |")
    print(f"| hybrid scoring (30 steps) | {hybrid_rate:.1f} | |")
    print(f"| AnoGAN inversion, naive per-image loop (Γ={args.steps}) | {naive_rate:.3f} | 1.00 |")
    print(f"| AnoGAN inversion, project batched (Γ={args.steps}) | {invert_rate:.2f} | "
          f"{report['inversion_ratio_vs_naive']:.1f} |")
    print(f"| AnoGAN inversion, batched, 100 steps | {short_graph:.1f} | 1.00 |")
    print(f"| AnoGAN inversion, batched, 100 steps, XLA | {short_xla:.1f} | {short_xla / short_graph:.2f} |")
    for target, met in report["targets"].items():
        print(f"{'met   ' if met else 'MISSED'} {target}")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
