"""``anogan dashboard``: start the Streamlit dashboard, on this machine only unless told otherwise."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from anogan.cli.options import is_loopback
from anogan.data.images import MAX_FILE_BYTES
from anogan.errors import AnoganError


def add_parsers(commands) -> None:
    dashboard = commands.add_parser(
        "dashboard", help="open the Streamlit dashboard",
        description="Start the Streamlit dashboard (dashboard/app.py) over a runs directory. Extra arguments "
        "after -- go to 'streamlit run' (e.g. -- --server.port 8600 --server.headless true).",
    )
    dashboard.add_argument("--runs-dir", default=os.environ.get("ANOGAN_RUNS_DIR", "runs"),
                           help="folder holding model bundles and results (default runs/, or $ANOGAN_RUNS_DIR)")
    dashboard.add_argument("--host", default="127.0.0.1",
                           help="address to listen on (default 127.0.0.1: this machine only). Another address "
                           "opens the dashboard to the network and needs $ANOGAN_DASHBOARD_TOKEN or "
                           "--insecure-no-auth")
    dashboard.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    dashboard.add_argument("--insecure-no-auth", action="store_true",
                           help="allow listening beyond this machine without an access token")
    dashboard.add_argument("streamlit_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    dashboard.set_defaults(handler=dashboard_command)


def dashboard_app_path() -> Path:
    """The dashboard's entry script: ``anogan.dashboard`` (``dashboard/`` of the repository, or of the installed package)."""
    import importlib.util

    spec = importlib.util.find_spec("anogan.dashboard")
    if spec is None or not spec.submodule_search_locations:
        raise AnoganError("the dashboard is not installed with this anogan (reinstall it: pip install anogan)")
    return Path(list(spec.submodule_search_locations)[0]) / "app.py"


def streamlit_settings(host: str, port: int) -> list[str]:
    """The ``streamlit run`` options of every dashboard server (the command's and the browser checks')."""
    return ["--server.address", host, "--server.port", str(port),
            "--server.maxUploadSize", str(MAX_FILE_BYTES // 2**20),
            "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal",
            # Streamlit runs a full garbage collection after every script run; with TensorFlow's heap
            # loaded that took a third of the server's CPU with 8 sessions scoring (py-spy)
            "--runner.postScriptGC", "false"]


def dashboard_command(args: argparse.Namespace) -> int:
    app = dashboard_app_path()
    if not app.is_file():
        raise AnoganError(f"dashboard not found at {app}; reinstall anogan")
    runs = Path(args.runs_dir).resolve()
    if not runs.is_dir():
        raise AnoganError(f"runs directory not found: {runs}")
    _check_exposure(args)
    extra = [a for a in args.streamlit_args if a != "--"]
    settings = streamlit_settings(args.host, args.port)
    env = {**os.environ, "ANOGAN_RUNS_DIR": str(runs)}
    print(f"dashboard over {runs} on http://{args.host}:{args.port}", flush=True)
    # Streamlit replaces this process, so Ctrl-C and SIGTERM reach the server itself.
    os.execve(sys.executable, [sys.executable, "-m", "streamlit", "run", str(app), *settings, *extra], env)


def _check_exposure(args: argparse.Namespace) -> None:
    """Refuse to listen beyond this machine without a token, unless told to (and then warn)."""
    if is_loopback(args.host) or os.environ.get("ANOGAN_DASHBOARD_TOKEN"):
        return
    if not args.insecure_no_auth:
        raise AnoganError(
            f"--host {args.host} opens the dashboard to the network: set ANOGAN_DASHBOARD_TOKEN to require an "
            "access token, or pass --insecure-no-auth to allow anyone who can reach this machine"
        )
    print(f"anogan: warning: listening on {args.host} with no access token; anyone who can reach this "
          "machine can read the runs folder and score images", file=sys.stderr)
