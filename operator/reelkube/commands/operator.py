"""`reelkube operator`: run the kopf operator for RenderJob and TTSJob.

Equivalent to ``kopf run -m reelkube.controller.handlers`` with the liveness endpoint and the
namespaces taken from the flags or the chart's environment (``REELKUBE_WATCH_NAMESPACES``).
"""

from __future__ import annotations

import argparse
import logging
import os

from reelkube.controller.log_format import configure_logging
from reelkube.controller.settings import settings_from_env


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    parser = subparsers.add_parser("operator", help="run the Kubernetes operator (kopf)")
    parser.add_argument(
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        help="watch this namespace (repeatable); default: $REELKUBE_WATCH_NAMESPACES, else all",
    )
    parser.add_argument("--all-namespaces", action="store_true", help="watch the whole cluster")
    parser.add_argument(
        "--liveness",
        default=None,
        help="kopf liveness endpoint (default: http://0.0.0.0:$REELKUBE_LIVENESS_PORT/healthz)",
    )
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import kopf

    settings = settings_from_env(os.environ)
    level = logging.DEBUG if args.verbose else getattr(logging, settings.log_level, logging.INFO)
    # Our lines carry namespace= name=; kopf's per-object ones its object reference, which the
    # JSON form turns into the same fields (the chart's operator.logFormat).
    configure_logging(level, settings.log_format)
    logging.getLogger("kubernetes").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)

    import reelkube.controller.handlers  # noqa: F401 - registers the handlers

    namespaces = [] if args.all_namespaces else (args.namespace or list(settings.watch_namespaces))
    liveness = args.liveness or (
        f"http://0.0.0.0:{settings.liveness_port}/healthz" if settings.liveness_port else None
    )
    kopf.run(
        standalone=True,  # one replica (Recreate strategy); no peering objects needed
        clusterwide=not namespaces,
        namespaces=namespaces,
        liveness_endpoint=liveness,
    )
    return 0
