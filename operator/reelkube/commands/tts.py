"""`reelkube tts FILE.yaml`: run a TTSJob manifest locally (narration, timings, subtitles)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from reelkube.api.renderjob import RenderJob
from reelkube.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from reelkube.errors import Canceled, ReelkubeError, SpecError

EXIT_CANCELED = 130


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    parser = subparsers.add_parser("tts", help="narrate a TTSJob manifest to local files")
    parser.add_argument("manifest", type=Path, help="TTSJob YAML file")
    parser.add_argument("-o", "--out", type=Path, help="output directory (default: ./out/<metadata.name>)")
    parser.add_argument("--json", action="store_true", help="print one JSON result object on stdout")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reelkube.commands.render import ProgressPrinter
    from reelkube.engine.manifest import load_manifest
    from reelkube.speech.tts import run_tts_job

    try:
        job = load_manifest(args.manifest)
    except SpecError as exc:
        print(f"error: invalid manifest {args.manifest}:\n{exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if isinstance(job, RenderJob):
        print(
            f"error: {args.manifest} is a RenderJob; run `reelkube render {args.manifest}`", file=sys.stderr
        )
        return EXIT_BAD_INPUT
    out_dir = args.out or Path("out") / job.metadata.name
    try:
        result = run_tts_job(
            job, out_dir, base_dir=args.manifest.resolve().parent, on_progress=ProgressPrinter(sys.stderr)
        )
    except SpecError as exc:
        print(f"error: invalid manifest {args.manifest}:\n{exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Canceled as exc:
        print(f"canceled: {exc.message}", file=sys.stderr)
        return EXIT_CANCELED
    except ReelkubeError as exc:
        print(f"error ({exc.reason}): {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
        return EXIT_OK
    for name, artifact in result.outputs.items():
        print(f"{name}: {artifact.path} ({artifact.size} bytes)")
    print(
        f"{result.sentences} sentences, {result.duration:.2f}s of speech, "
        f"words by {result.word_timing_source}, {result.loudness_lufs:.1f} LUFS, {result.seconds:.2f}s wall"
    )
    return EXIT_OK
