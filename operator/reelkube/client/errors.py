"""What can go wrong for a client waiting on or downloading a render, as typed exceptions."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reelkube.api.status import ResourceStatus


class ClientError(Exception):
    """Base of every error the client raises on purpose."""


class ResourceNotFound(ClientError):
    """No RenderJob or TTSJob of that name (or it was deleted while waited on)."""


class RenderFailed(ClientError):
    """The resource ended Failed; ``reason`` and ``message`` are the status's."""

    def __init__(self, name: str, status: ResourceStatus) -> None:
        self.name = name
        self.status = status
        self.reason = status.reason or "Failed"
        self.message = status.message or ""
        super().__init__(f"{name} failed: {self.reason}: {self.message}")


class RenderCanceled(ClientError):
    """The resource ended Canceled (by `spec.cancel`, or its Job was removed)."""

    def __init__(self, name: str, status: ResourceStatus) -> None:
        self.name = name
        self.status = status
        self.reason = status.reason or "Canceled"
        self.message = status.message or ""
        super().__init__(f"{name} canceled: {self.reason}: {self.message}")


class WaitTimeout(ClientError, TimeoutError):
    """The wait ran out of time; the resource itself keeps going."""

    def __init__(self, name: str, timeout: float, status: ResourceStatus | None) -> None:
        self.name = name
        self.timeout = timeout
        self.status = status
        super().__init__(f"{name} did not finish within {timeout:g}s")


class OutputMismatch(ClientError):
    """A downloaded output's size or SHA-256 differs from what the status promised."""

    def __init__(self, output: str, what: str, expected: object, got: object) -> None:
        self.output = output
        self.what = what
        self.expected = expected
        self.got = got
        super().__init__(f"output {output}: {what} is {got}, the status says {expected}")
