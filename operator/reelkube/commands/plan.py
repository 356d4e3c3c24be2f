"""`reelkube plan FILE.yaml`: print the exact ffmpeg command a render would run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reelkube.api.ttsjob import TTSJob
from reelkube.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from reelkube.errors import ReelkubeError, SpecError


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    parser = subparsers.add_parser("plan", help="print the ffmpeg command a RenderJob would run")
    parser.add_argument("manifest", type=Path, help="RenderJob YAML file")
    parser.add_argument("-o", "--out", type=Path, help="output directory (default: ./out/<metadata.name>)")
    parser.add_argument("--graph", action="store_true", help="print only the filter graph, one chain a line")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reelkube.manifest import load_manifest
    from reelkube.pipeline.render_job import plan_job

    try:
        job = load_manifest(args.manifest)
        if isinstance(job, TTSJob):
            raise SpecError(f"{args.manifest} is a TTSJob: it has no ffmpeg plan (see `reelkube tts`)")
        out_dir = args.out or Path("out") / job.metadata.name
        # Kept (not a temporary directory) so that the printed command can be run as it is.
        workdir = out_dir / ".reelkube-plan"
        workdir.mkdir(parents=True, exist_ok=True)
        plan = plan_job(job, out_dir, workdir, base_dir=args.manifest.resolve().parent)
    except SpecError as exc:
        print(f"error: invalid manifest {args.manifest}:\n{exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ReelkubeError as exc:
        print(f"error ({exc.reason}): {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    print(plan.filter_graph if args.graph else plan.command_line())
    print(
        f"# {plan.total_frames} frames, {plan.width}x{plan.height} at {plan.fps:g} fps, {plan.encoder}; "
        f"text files and downloads in {workdir}",
        file=sys.stderr,
    )
    return EXIT_OK
