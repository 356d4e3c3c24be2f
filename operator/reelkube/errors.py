"""Errors a user can act on. Each carries a `reason` that becomes `status.reason`."""

from __future__ import annotations

from typing import ClassVar


class ReelkubeError(Exception):
    """Base of every expected failure: a reason (CamelCase) and a message a user can act on."""

    reason = "Failed"
    retryable: ClassVar[bool] = True
    """Whether another pod could succeed: False for failures that come from the resource itself
    (a bad spec, a missing, too large, unreadable or forbidden input), which fail at once."""

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
    retryable = False


class OutputTooLong(SpecError):
    """The output would be longer (in seconds or frames) than `spec.output`'s caps allow."""

    reason = "OutputTooLong"
    retryable = False


class InputError(ReelkubeError):
    """An input could not be fetched or read."""

    reason = "InputUnavailable"


class InputNotFound(InputError):
    reason = "InputNotFound"
    retryable = False


class InputTooLarge(InputError):
    reason = "InputTooLarge"
    retryable = False


class InputTimeout(InputError):
    reason = "InputTimeout"


class InputUnreadable(InputError):
    """ffprobe (or the image decoder) cannot read the file."""

    reason = "InputUnreadable"
    retryable = False


class InputRejected(InputError):
    """The input's server refused the request with a client error (HTTP 4xx other than 408 and
    429, or storage refusing access): asking again gets the same answer."""

    reason = "InputRejected"
    retryable = False


class InputForbidden(InputError):
    """The input policy refuses the input (a scheme, a local file, an address, a redirect): the
    message names the field and the rule, never what the refused target holds."""

    reason = "InputForbidden"
    retryable = False


class RenderFailed(ReelkubeError):
    """ffmpeg (or Piper) failed; the message holds the last lines of its stderr."""

    reason = "RenderFailed"


class UnsupportedCodec(RenderFailed):
    reason = "UnsupportedCodec"
    retryable = False


class RenderOutOfMemory(RenderFailed):
    """ffmpeg was killed by SIGKILL inside the pod: the kernel's OOM killer at the memory limit
    (when it kills ffmpeg alone, the container lives on to say so). It recurs under the same
    limit, so it is not retried."""

    reason = "OutOfMemory"
    retryable = False


class EncoderUnavailable(RenderFailed):
    """The GPU encoder (NVENC) does not work on this node and `spec.output.requireGpuEncoder`
    forbids the CPU fallback."""

    reason = "EncoderUnavailable"
    retryable = False


class StorageFailed(ReelkubeError):
    """Upload or download from S3-compatible storage failed."""

    reason = "StorageFailed"


class StorageDenied(StorageFailed):
    """Storage refused the credentials or the permission (403, InvalidAccessKeyId,
    SignatureDoesNotMatch, ...) or none were given: fixing the Secret or the bucket policy is
    the only cure, so it is not retried."""

    reason = "StorageDenied"
    retryable = False


class Canceled(ReelkubeError):
    """Stopped by SIGTERM (deleted resource, deadline, or Ctrl-C)."""

    reason = "Canceled"
