"""One real Piper narration per session (synthesis is the slow part), for the speech tests and
the narrated template's tests; only tests marked ``slow`` may ask for it.

Fixtures (shared through ``pytest_plugins`` in tests/conftest.py):

narration   session: :data:`AWKWARD_SCRIPT` narrated with the default voice, at -16 LUFS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from reelkube.speech.narration import NarrationFiles

AWKWARD_SCRIPT = (
    "Mr. Smith met Dr. Jones at 3.14 p.m. in the U.S. on Tuesday, e.g. after lunch. "
    "It cost $1,000 in total... which was a lot! Really? Yes. "
    "Braces {like} this and back\\slashes must stay text."
)
SENTENCE_SILENCE = 0.25


@pytest.fixture(scope="session")
def narration(tmp_path_factory: pytest.TempPathFactory) -> NarrationFiles:
    """The awkward script narrated once for the session."""
    # Imported here: loading the speech stack is only for the tests that narrate.
    from reelkube.api.ttsjob import VoiceSpec
    from reelkube.speech.narration import narrate

    out = tmp_path_factory.mktemp("narration")
    return narrate(AWKWARD_SCRIPT, VoiceSpec(sentenceSilence=SENTENCE_SILENCE), out, loudness_lufs=-16.0)
