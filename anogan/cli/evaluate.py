"""``anogan evaluate``: metrics and plots of a results file."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parsers(commands) -> None:
    evaluate = commands.add_parser(
        "evaluate", help="metrics and plots of a results CSV",
        description="AUROC, AUPRC, F1-max, precision/recall/F1 at the bundle's threshold and a per-class "
        "summary (scikit-learn metrics); writes metrics.json, ROC/PR curve CSVs and ROC, PR and "
        "histogram PNGs.",
    )
    evaluate.add_argument("results", metavar="RESULTS_CSV", help="a file written by 'anogan score'")
    evaluate.add_argument("--out", metavar="DIR",
                          help="folder for metrics and plots (default: RESULTS_evaluation next to the results file)")
    evaluate.add_argument("--unknown-as", choices=("normal", "anomaly"),
                          help="label rows whose class the bundle does not know (left out of the metrics otherwise)")
    evaluate.set_defaults(handler=evaluate_command)


def evaluate_command(args: argparse.Namespace) -> int:
    from anogan.experiments.evaluation import evaluate

    out = args.out or Path(args.results).with_name(f"{Path(args.results).stem}_evaluation")
    metrics = evaluate(args.results, out, unknown_as=args.unknown_as)
    print_metrics(metrics)
    print(f"metrics and plots: {out}")
    return 0


def print_metrics(metrics: dict) -> None:
    """The metrics of one results file as a user reads them: ranking, operating point, what the threshold does."""
    if "auroc" in metrics:
        at = metrics["at_bundle_threshold"]
        print(f"{metrics['method']}: AUROC {metrics['auroc']:.4f}  AUPRC {metrics['auprc']:.4f}  "
              f"TPR at 1 % / 5 % FPR {metrics['tpr_at_1pct_fpr']:.3f} / {metrics['tpr_at_5pct_fpr']:.3f}\n"
              f"  at the bundle's threshold: recall {at['recall']:.3f} ({at['tp']} of {at['tp'] + at['fn']} "
              f"anomalies caught), {at['fp']} of {at['fp'] + at['tn']} normal images flagged, precision "
              f"{at['precision']:.3f}  ({metrics['n_errors']} errors)")
    else:
        print(f"{metrics['method']}: {metrics.get('note', 'no labelled rows')}")
    if metrics.get("n_unlabelled"):
        print(f"  {metrics['n_unlabelled']} scored rows have a class the bundle does not know and were left out "
              "of the metrics; label them with --unknown-as normal|anomaly")
