"""Regenerate the example asset library (committed; run only to change it).

    python examples/assets/library/make_library.py

Every asset is made with ffmpeg's lavfi sources and drawtext (no downloads, no Pillow), small
enough that the whole library stays a few hundred KB, and each has a distinct main colour so
render tests can tell scenes apart. `index.yaml` lists them with tags, a description, their
orientation and attribution: the scene layer matches scene queries against it.

`voiceover.m4a` (the sentences example's recorded voice-over) is VOICEOVER_SENTENCES narrated by
the bundled Piper voice and encoded small (mono AAC).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

LIBRARY = Path(__file__).resolve().parent
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
ATTRIBUTION = "Reelkube example library (generated with ffmpeg lavfi)"

# id, kind, size, lavfi source, label, tags, description
ASSETS = [
    ("ocean", "image", "640x360", "gradients=s=640x360:c0=0x0a3d62:c1=0x38ada9:x0=0:y0=0:x1=640:y1=360",
     "OCEAN", ["ocean", "sea", "water", "wave", "blue", "coast"], "Deep blue water fading to a turquoise coast."),
    ("forest", "image", "640x360", "gradients=s=640x360:c0=0x0b3d0b:c1=0x6ab04c:x0=0:y0=360:x1=640:y1=0",
     "FOREST", ["forest", "tree", "nature", "green", "leaf", "plant"], "Green forest canopy in soft light."),
    ("city-night", "image", "640x360", "gradients=s=640x360:c0=0x1e1b4b:c1=0xf97316:x0=320:y0=360:x1=320:y1=0",
     "CITY", ["city", "night", "street", "light", "urban", "building"], "City lights glowing against a night sky."),
    ("mountain", "image", "640x360", "gradients=s=640x360:c0=0xdfe6e9:c1=0x636e72:x0=320:y0=0:x1=320:y1=360",
     "MOUNTAIN", ["mountain", "snow", "peak", "cold", "winter", "hike"], "Snowy mountain peaks under a grey sky."),
    ("desert", "image", "640x360", "gradients=s=640x360:c0=0xf6b93b:c1=0xe55039:x0=0:y0=0:x1=0:y1=360",
     "DESERT", ["desert", "sun", "sand", "heat", "dry", "summer"], "Hot desert sand under a burning sun."),
    ("space", "image", "640x360", "mandelbrot=s=640x360:maxiter=64",
     "SPACE", ["space", "star", "galaxy", "universe", "science", "astronomy"], "A swirling fractal like a distant galaxy."),
    ("data", "image", "640x360", "testsrc2=s=640x360",
     "DATA", ["data", "chart", "computer", "technology", "screen", "software"], "Bright test pattern on a computer screen."),
    ("energy-portrait", "image", "360x640", "gradients=s=360x640:c0=0xfeca57:c1=0xff6b6b:x0=0:y0=0:x1=360:y1=640",
     "ENERGY", ["energy", "power", "sun", "electricity", "solar", "warm"], "Warm vertical glow of solar energy."),
    ("ocean-portrait", "image", "360x640", "gradients=s=360x640:c0=0x01497c:c1=0x89c2d9:x0=0:y0=640:x1=0:y1=0",
     "WAVES", ["ocean", "wave", "water", "surf", "blue", "beach"], "Tall blue waves rolling onto a beach."),
    ("growth-clip", "video", "320x180", "cellauto=s=320x180:rule=110:rate=30",
     "GROWTH", ["growth", "pattern", "life", "cell", "biology", "change"], "Cells growing in a moving pattern."),
    ("traffic-clip", "video", "320x180", "life=s=320x180:mold=10:rate=15:ratio=0.1:death_color=#1e272e:life_color=#00d2d3",
     "TRAFFIC", ["traffic", "movement", "crowd", "busy", "city", "people"], "Busy moving dots like city traffic."),
]  # fmt: skip


def make(asset_id: str, kind: str, size: str, source: str, label: str) -> str:
    """Render one asset; returns its file name."""
    height = int(size.split("x")[1])
    text = (
        f"drawtext=fontfile={FONT}:text={label}:fontcolor=white@0.85:fontsize={height // 7}:"
        "x=(w-tw)/2:y=(h-th)/2:shadowx=2:shadowy=2"
    )
    if kind == "video":
        name = f"{asset_id}.mp4"
        args = ["-f", "lavfi", "-i", source, "-t", "2", "-vf", f"{text},format=yuv420p",
                "-c:v", "libx264", "-preset", "veryfast", "-crf", "38", "-an"]  # fmt: skip
    else:
        name = f"{asset_id}.jpg"
        args = ["-f", "lavfi", "-i", source, "-frames:v", "1", "-vf", text, "-q:v", "5", "-update", "1"]
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args, str(LIBRARY / name)], check=True)
    return name


VOICEOVER_SENTENCES = [
    "Deep in the forest, the trees share water through their roots.",
    "High on the mountain, snow keeps the rivers running all summer.",
    "And far below, the ocean carries that water back to the sky.",
]


def make_voiceover() -> None:
    """voiceover.m4a: the sentences narrated with the default Piper voice, as small mono AAC."""
    import tempfile

    from reelkube.api.ttsjob import VoiceSpec
    from reelkube.speech.narration import narrate

    with tempfile.TemporaryDirectory() as scratch:
        files = narrate(" ".join(VOICEOVER_SENTENCES), VoiceSpec(sentenceSilence=0.35), Path(scratch))
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(files.wav), "-ac", "1",
                        "-c:a", "aac", "-b:a", "40k", str(LIBRARY / "voiceover.m4a")], check=True)  # fmt: skip


def main() -> None:
    """Write every asset, index.yaml and the voice-over."""
    entries = []
    for asset_id, kind, size, source, label, tags, description in ASSETS:
        width, height = (int(n) for n in size.split("x"))
        orientation = "portrait" if height > width else "landscape"
        entries.append({
            "id": asset_id, "src": make(asset_id, kind, size, source, label), "kind": kind,
            "tags": tags, "description": description, "orientation": orientation,
            "attribution": ATTRIBUTION,
        })  # fmt: skip
    header = "# The example asset library: made by make_library.py (ffmpeg lavfi), matched by scene queries.\n"
    (LIBRARY / "index.yaml").write_text(header + yaml.safe_dump({"assets": entries}, sort_keys=False))
    make_voiceover()


if __name__ == "__main__":
    main()
