"""InputForbidden: its own reason, never retried, still an input error to those catching those."""

from __future__ import annotations

from reelkube.errors import (
    InputError,
    InputForbidden,
    InputNotFound,
    InputTimeout,
    InputTooLarge,
    InputUnreadable,
    RenderFailed,
    SpecError,
    UnsupportedCodec,
)


def test_input_forbidden_is_a_permanent_input_error() -> None:
    error = InputForbidden("spec.script: file:///etc/passwd names a file of the render pod")
    assert isinstance(error, InputError)
    assert error.reason == "InputForbidden" and error.retryable is False
    assert error.message.startswith("spec.script: ")


def test_retryable_matches_the_permanent_failures() -> None:
    # The failures that come from the resource itself fail at once; the others may pass on a retry.
    permanent = (SpecError, InputNotFound, InputTooLarge, InputUnreadable, UnsupportedCodec, InputForbidden)
    assert all(not kind.retryable for kind in permanent)
    assert all(kind.retryable for kind in (InputError, InputTimeout, RenderFailed))
