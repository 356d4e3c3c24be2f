"""Errors a user can act on. Each carries a `reason` that becomes `status.reason`."""

from __future__ import annotations


class ReelkubeError(Exception):
    """Base of every expected failure: a reason (CamelCase) and a message a user can act on."""

    reason = "Failed"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.reason


class SpecError(ReelkubeError):
    """The manifest or the template's props are invalid (exit code 2 on the command line)."""

    reason = "InvalidSpec"


class InputError(ReelkubeError):
    """An input could not be fetched or read."""

    reason = "InputUnavailable"


class InputNotFound(InputError):
    reason = "InputNotFound"


class InputTooLarge(InputError):
    reason = "InputTooLarge"


class InputTimeout(InputError):
    reason = "InputTimeout"


class InputUnreadable(InputError):
    """ffprobe (or the image decoder) cannot read the file."""

    reason = "InputUnreadable"


class RenderFailed(ReelkubeError):
    """ffmpeg (or Piper) failed; the message holds the last lines of its stderr."""

    reason = "RenderFailed"


class UnsupportedCodec(RenderFailed):
    reason = "UnsupportedCodec"


class StorageFailed(ReelkubeError):
    """Upload or download from S3-compatible storage failed."""

    reason = "StorageFailed"


class Canceled(ReelkubeError):
    """Stopped by SIGTERM (deleted resource, deadline, or Ctrl-C)."""

    reason = "Canceled"
