"""``anogan gan-report``: what a bundle's generator learned, as a table and a PNG."""

from __future__ import annotations

import argparse

from anogan.cli.options import add_bundle_options


def add_parsers(commands) -> None:
    report = commands.add_parser(
        "gan-report", help="the generator's health: Fréchet distance, KID, precision/recall, memorisation",
        description="Measure the bundle's generator against its normal validation images in a fixed random "
        "feature network (Fréchet distance, KID, precision/recall, density/coverage, near-duplicates), beside "
        "the floor two halves of real images reach, and pair samples with their nearest training images. "
        "Writes gan_report.csv and gan_report.png (metric curves over epochs, samples, nearest images).",
    )
    add_bundle_options(report)
    report.add_argument("--checkpoints", action="store_true",
                        help="also measure the run's checkpoint (training weights, before averaging)")
    report.add_argument("--out", metavar="DIR", help="folder for the report (default: MODEL/gan_report)")
    report.set_defaults(handler=gan_report_command)


def gan_report_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from anogan.experiments.gan_report import gan_report, write_report
    from anogan.gan.bundle import open_bundle
    from anogan.gan.health import METRIC_NAMES

    bundle = open_bundle(args.model)
    report = gan_report(bundle, checkpoints=args.checkpoints)
    table, figure = write_report(report, Path(args.out) if args.out else bundle.path / "gan_report")
    width = max(len(row["what"]) for row in report.rows)
    print(f"{'':{width}}  " + "  ".join(f"{name:>10}" for name in METRIC_NAMES))
    for row in report.rows:
        print(f"{row['what']:{width}}  " + "  ".join(f"{row[name]:>10.4g}" for name in METRIC_NAMES))
    print(f"memorisation ratio {report.memorisation_ratio:.2f} (well under 1: samples copy training images)")
    print(f"health: {report.health}")
    if report.few_images:
        print("note: few validation images; the metrics are noisy")
    for note in report.notes:
        print(f"note: {note}")
    print(f"table:  {table}\nfigure: {figure}")
    return 0
