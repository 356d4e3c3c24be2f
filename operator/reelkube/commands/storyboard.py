"""`reelkube storyboard FILE.yaml [-o DIR]`: a scene-based RenderJob's storyboard (storyboard.json
and the storyboard.png contact sheet) without rendering the video."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from reelkube.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from reelkube.errors import ReelkubeError, SpecError


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    parser = subparsers.add_parser(
        "storyboard",
        help="write a scene-based RenderJob's storyboard (JSON and contact sheet) without rendering",
    )
    parser.add_argument("manifest", type=Path, help="RenderJob YAML file with a scene-based template")
    parser.add_argument("-o", "--out", type=Path, help="output directory (default: ./out/<metadata.name>)")
    parser.add_argument(
        "--estimate",
        action="store_true",
        help="time scenes by an estimated speaking rate instead of synthesizing the narration",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reelkube.api.renderjob import RenderJob
    from reelkube.manifest import load_manifest
    from reelkube.templates import get_template
    from reelkube.templates.base import TemplateContext
    from reelkube.templates.storyboards import plan_storyboard

    started = time.monotonic()
    try:
        job = load_manifest(args.manifest)
        if not isinstance(job, RenderJob) or job.spec.template is None:
            raise SpecError(f"{args.manifest}: a storyboard needs a RenderJob with a scene-based template")
        template = get_template(job.spec.template.value)
        props = template.parse_props(job.spec.props)
        out_dir: Path = args.out or Path("out") / job.metadata.name
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".reelkube-storyboard-", dir=out_dir) as scratch:
            context = TemplateContext(
                output=job.spec.output,
                workdir=Path(scratch),
                limits=job.spec.inputLimits,
                base_dir=args.manifest.resolve().parent,
                storage=job.spec.storage,
            )
            plan = plan_storyboard(template.name, props, context, estimate=args.estimate)
            written = []
            for key in ("storyboard", "storyboardSheet"):
                target = out_dir / plan.artifacts[key].name
                shutil.copy2(plan.artifacts[key], target)
                written.append(target)
    except SpecError as exc:
        print(f"error: invalid manifest {args.manifest}:\n{exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ReelkubeError as exc:
        print(f"error ({exc.reason}): {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    board = plan.storyboard
    for scene in board.scenes:
        visual = scene.visual
        shown = visual.asset_id or visual.src or f"fallback card {visual.color}"
        print(f"{scene.index + 1:>3}  {scene.start:7.2f}-{scene.end:7.2f}s  {visual.source:<8} {shown}")
    for path in written:
        print(f"{path.name}: {path}")
    print(
        f"# {len(board.scenes)} scenes, {board.duration:.2f}s of video, timings {board.word_timing_source}; "
        f"planned in {time.monotonic() - started:.2f}s",
        file=sys.stderr,
    )
    return EXIT_OK
