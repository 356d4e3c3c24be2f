"""Subtitles from narration timings: the timings type (`timings.json`), caption pages (pure) and
ASS/SRT/WebVTT files (pysubs2). Imports the engine's ASS module, never speech."""

from reelkube.subtitles.captions import CaptionPage, caption_pages
from reelkube.subtitles.files import (
    CaptionLook,
    build_ass,
    srt_text,
    vtt_text,
    write_subtitles,
)

__all__ = [
    "CaptionLook",
    "CaptionPage",
    "build_ass",
    "caption_pages",
    "srt_text",
    "vtt_text",
    "write_subtitles",
]
