"""Fixtures of the command-line tests: the commands render the engine tests' media files."""

from __future__ import annotations

from support.media import video_stream

__all__ = ["video_stream"]
