"""``anogan serve``: the HTTP scoring API, on this machine only unless told otherwise."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from anogan.cli.options import is_loopback
from anogan.errors import AnoganError
from anogan.scoring.methods import METHODS
from anogan.scoring.recipes import RECIPES

TOKEN_VARIABLE = "ANOGAN_SERVE_TOKEN"


def add_parsers(commands) -> None:
    serve = commands.add_parser(
        "serve", help="serve a bundle's scores over HTTP (POST /v1/score; docs at /docs)",
        description="One warm scorer with the bundle's recipe and calibrated threshold behind a FastAPI app; "
        "concurrent requests are scored together (micro-batching). Needs pip install \"anogan[serve]\".",
    )
    serve.add_argument("--model", required=True, metavar="RUN_DIR", help="the model bundle")
    serve.add_argument("--method", choices=METHODS, help="scoring method (default: the bundle's recipe's)")
    serve.add_argument("--recipe", choices=RECIPES, help="score with this recipe instead of the bundle's own")
    serve.add_argument("--host", default="127.0.0.1",
                       help=f"address to listen on (default 127.0.0.1: this machine only); another needs "
                       f"${TOKEN_VARIABLE} (clients send it as a bearer token) or --insecure-no-auth")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--insecure-no-auth", action="store_true",
                       help="allow listening beyond this machine without a token")
    serve.add_argument("--max-batch", type=int, metavar="N",
                       help="images per scorer call at most (default: the scorer's batch)")
    serve.add_argument("--max-wait-ms", type=float, default=5.0, metavar="MS",
                       help="how long a batch waits for more requests (default 5)")
    serve.add_argument("--no-batching", dest="batching", action="store_false",
                       help="score every request on its own (for comparison)")
    serve.add_argument("--max-files", type=int, default=256, help="images per request at most (default 256)")
    serve.add_argument("--request-timeout", type=float, default=30.0, metavar="SECONDS",
                       help="a request taking longer is answered 408 (default 30)")
    serve.add_argument("--engine", choices=("local", "ray"), default="local",
                       help="local: one process (default); ray: a Ray Serve deployment of --replicas replicas "
                       "behind Ray's HTTP proxy (needs pip install \"anogan[ray]\")")
    serve.add_argument("--replicas", type=int, default=1, metavar="N", help="replicas on Ray (default 1)")
    serve.add_argument("--replica-cpus", type=float, default=1.0, metavar="CPUS",
                       help="CPUs reserved per replica on Ray (default 1)")
    serve.add_argument("--ray-address", metavar="HOST:PORT",
                       help="join this Ray cluster (or auto) instead of starting a local Ray")
    serve.set_defaults(handler=serve_command)


def serve_command(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError:
        raise AnoganError('anogan serve needs FastAPI and uvicorn: pip install "anogan[serve]"') from None
    from anogan.serve.app import ServeLimits, create_app
    from anogan.serve.service import ScoringService

    token = os.environ.get(TOKEN_VARIABLE) or None
    _check_exposure(args.host, token, args.insecure_no_auth)
    service_kwargs = dict(model=args.model, method=args.method, recipe=args.recipe, max_batch=args.max_batch,
                          max_wait=args.max_wait_ms / 1000, batching=args.batching)
    limits = ServeLimits(max_files=args.max_files, request_timeout=args.request_timeout)
    if args.engine == "ray":
        return _serve_on_ray(args, service_kwargs, token, limits)
    service = ScoringService(**service_kwargs)
    _announce(args, token)
    # uvicorn stops cleanly on SIGTERM and Ctrl-C (the requests in flight finish, then the app's shutdown runs)
    # and then raises the signal again; ending there with status 0 says the stop was the one asked for
    signal.signal(signal.SIGTERM, _stopped)
    uvicorn.run(create_app(service, token, limits), host=args.host, port=args.port, log_level="warning",
                timeout_graceful_shutdown=10)
    return 0


def _announce(args: argparse.Namespace, token) -> None:
    replicas = f" with {args.replicas} replicas on Ray" if args.engine == "ray" else ""
    print(f"serving {args.model}{replicas} on http://{args.host}:{args.port} (docs at /docs)"
          + (", bearer token required" if token else ""), flush=True)


def _serve_on_ray(args: argparse.Namespace, service_kwargs: dict, token, limits) -> int:
    if args.replicas < 1 or args.replica_cpus <= 0:
        raise AnoganError("--replicas must be at least 1 and --replica-cpus positive")
    try:
        from anogan.serve.ray_serve import RayServeOptions, run_on_ray, stop_on_ray
    except ImportError:
        raise AnoganError('anogan serve --engine ray needs Ray Serve: pip install "anogan[ray]"') from None
    options = RayServeOptions(args.replicas, args.replica_cpus, args.host, args.port, args.ray_address)
    stop = threading.Event()

    def stop_on_signals():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())

    stop_on_signals()
    try:
        run_on_ray(service_kwargs, token, limits, options)  # returns once every replica is warm
        stop_on_signals()  # again: starting Ray replaced them with its own, which abort the process
        _announce(args, token)
        while not stop.wait(0.5):  # a short wait, so the signal handler runs promptly
            pass
    finally:
        stop_on_ray()
    print("anogan serve: stopped", flush=True)
    return 0


def _check_exposure(host: str, token, insecure: bool) -> None:
    if is_loopback(host) or token:
        return
    if not insecure:
        raise AnoganError(f"--host {host} opens the API to the network: set {TOKEN_VARIABLE} to require a bearer "
                          "token, or pass --insecure-no-auth to let anyone who can reach this machine score images")
    print(f"anogan: warning: serving on {host} with no token; anyone who can reach this machine can score "
          "images", file=sys.stderr)


def _stopped(signum, frame) -> None:
    print("anogan serve: stopped", flush=True)
    raise SystemExit(0)
