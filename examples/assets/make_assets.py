"""Regenerate the sample assets the examples render from (they are committed; run only to change them).

    python examples/assets/make_assets.py

Everything is synthetic (numpy + Pillow + ffmpeg lavfi), so the examples work offline and the
pixel checks in tests/templates know each asset's colours:

- reel-background.jpg  1080x1920 warm gradient with soft discs (captioned-reel background)
- slide-1..4.jpg       1280x720, each a flat distinct colour (SLIDE_COLORS) with its number in the
                       bottom-right corner (slideshow; the flat colour lets tests find transitions)
- product.png          800x800 RGBA: a stylised bottle on transparency (static-ad)
- music.m4a            6 s AAC arpeggio (slideshow music; shorter than the show, so it loops)
- clip.mp4             2 s 640x360 H.264 test pattern (timeline example's video clip)
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

ASSETS = Path(__file__).resolve().parent
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

SLIDE_COLORS = {
    "slide-1.jpg": (220, 60, 50),
    "slide-2.jpg": (40, 170, 90),
    "slide-3.jpg": (40, 90, 210),
    "slide-4.jpg": (235, 190, 40),
}
"""Flat colour of each slide, as the tests expect them."""


def make_reel_background(path: Path) -> None:
    """A vertical gradient (coral to deep violet) with a few blurred discs for texture."""
    width, height = 1080, 1920
    t = np.linspace(0.0, 1.0, height)[:, None, None]
    top, bottom = np.array([250, 150, 90]), np.array([70, 40, 120])
    pixels = np.broadcast_to(top * (1 - t) + bottom * t, (height, width, 3)).astype(np.uint8)
    image = Image.fromarray(pixels)
    discs = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(discs)
    for x, y, r in [(260, 420, 180), (820, 900, 240), (380, 1500, 200)]:
        draw.ellipse((x - r, y - r, x + r, y + r), fill=90)
    discs = discs.filter(ImageFilter.GaussianBlur(40))
    image = Image.composite(Image.new("RGB", (width, height), (255, 235, 200)), image, discs)
    image.save(path, quality=82, optimize=True)


def make_slide(path: Path, color: tuple[int, int, int], number: int) -> None:
    """A flat colour with its number in the bottom-right corner."""
    image = Image.new("RGB", (1280, 720), color)
    draw = ImageDraw.Draw(image)
    draw.text((1130, 560), str(number), fill=(255, 255, 255), font=ImageFont.truetype(FONT, 120))
    image.save(path, quality=90, optimize=True)


def make_product(path: Path) -> None:
    """A bottle silhouette with a label, on a transparent background."""
    image = Image.new("RGBA", (800, 800), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((330, 60, 470, 180), radius=20, fill=(40, 40, 48, 255))  # cap
    draw.rounded_rectangle((230, 170, 570, 760), radius=90, fill=(245, 245, 240, 255))  # body
    draw.rectangle((230, 380, 570, 560), fill=(255, 120, 60, 255))  # label band
    draw.text((300, 430), "GLOW", fill=(255, 255, 255, 255), font=ImageFont.truetype(FONT, 64))
    image.save(path, optimize=True)


def run_ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make_music(path: Path) -> None:
    """A 6 s four-note arpeggio (two notes a second) with a soft envelope per note."""
    # Quoted inside the filtergraph: the expression has commas.
    note = "220*pow(2,(floor(mod(t*2,4))*3+floor(mod(t*2,4)/2))/12)"
    expr = f"0.25*sin(2*PI*{note}*t)*exp(-2*mod(t,0.5))"
    run_ffmpeg("-f", "lavfi", "-i", f"aevalsrc='{expr}':s=44100:d=6", "-c:a", "aac", "-b:a", "64k", str(path))


def make_clip(path: Path) -> None:
    """2 s of the testsrc2 pattern, small and quick to decode."""
    run_ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=2",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "30", "-pix_fmt", "yuv420p", str(path),
    )  # fmt: skip


def main() -> None:
    make_reel_background(ASSETS / "reel-background.jpg")
    for number, (name, color) in enumerate(SLIDE_COLORS.items(), start=1):
        make_slide(ASSETS / name, color, number)
    make_product(ASSETS / "product.png")
    make_music(ASSETS / "music.m4a")
    make_clip(ASSETS / "clip.mp4")
    for path in sorted(ASSETS.iterdir()):
        print(f"{path.name:24} {path.stat().st_size / 1024:7.1f} KiB")


if __name__ == "__main__":
    main()
