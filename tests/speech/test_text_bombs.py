"""Text bombs: scripts with no sentence punctuation, very long tokens or symbols that are spelled
out must not make one Piper call (and so the narration's memory) grow with their length.

The splitting tests are pure; the synthesis test runs Piper in a child process and reads its
peak resident set from wait4().
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from reelkube.speech.script import (
    MAX_SENTENCE_CHARS,
    MAX_WORD_CHARS,
    MAX_WORDS,
    chop_long_words,
    clause_cut,
    count_words,
    sentence_words,
    split_script,
    split_to_fit,
)

PASSWD = (
    "root:x:0:0:root:/root:/bin/bash\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "bin:x:2:2:bin:/bin:/usr/sbin/nologin\n"
    "sys:x:3:3:sys:/dev:/usr/sbin/nologin\n"
    "sync:x:4:65534:sync:/bin:/bin/sync\n"
    "games:x:5:60:games:/usr/games:/usr/sbin/nologin\n"
    "man:x:6:12:man:/var/cache/man:/usr/sbin/nologin\n"
    "lp:x:7:7:lp:/var/spool/lpd:/usr/sbin/nologin\n"
    "mail:x:8:8:mail:/var/mail:/usr/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
)
TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6IkR" * 30  # 900 characters, no space
GLUED = "harbourwakesupslowlyonelightatatime" * 50  # 1,750 letters, no space
BOMBS = {
    "passwd": PASSWD,
    "token": TOKEN,
    "glued": GLUED,
    "unpunctuated words": " ".join(["the", "harbour", "wakes", "up", "slowly"] * 2000),
    "dashes": "-" * 900,
    "clauses without an end": "one two three, four five six; " * 400,
    "emoji": "🙂" * 500,
    "mixed": f"Hello there. {TOKEN} and then {PASSWD} and so on",
}


@pytest.mark.parametrize("text", BOMBS.values(), ids=BOMBS.keys())
def test_no_sentence_or_word_is_over_the_bound(text: str) -> None:
    sentences = split_script(text)
    assert sentences
    for sentence in sentences:
        assert len(sentence) <= MAX_SENTENCE_CHARS, sentence
        assert count_words(sentence) <= MAX_WORDS, sentence
        assert all(len(token) <= MAX_WORD_CHARS for token in sentence.split()), sentence


@pytest.mark.parametrize("text", BOMBS.values(), ids=BOMBS.keys())
def test_splitting_a_bomb_keeps_every_character(text: str) -> None:
    assert "".join("".join(s.split()) for s in split_script(text)) == "".join(text.split())


def test_a_long_token_is_chopped_after_punctuation_when_there_is_some() -> None:
    assert chop_long_words(["a" * 100], 40) == ["a" * 40, "a" * 40, "a" * 20]
    assert chop_long_words(["/usr/share/locale/en_GB/LC_MESSAGES/messages.mo"], 40) == [
        "/usr/share/locale/en_GB/LC_MESSAGES/",
        "messages.mo",
    ]
    # Punctuation early in the window would make tiny pieces: the cut stays at the bound.
    assert chop_long_words(["x/" + "y" * 60], 40) == ["x/" + "y" * 38, "y" * 22]
    assert chop_long_words(["short", "words"], 40) == ["short", "words"]


def test_ordinary_sentences_are_not_changed_by_the_bounds() -> None:
    text = (
        "Every morning the harbour wakes up slowly, one light at a time. The bakers are first: by "
        "five o'clock the smell of bread drifts over the water."
    )
    assert split_script(text) == [
        "Every morning the harbour wakes up slowly, one light at a time.",
        "The bakers are first: by five o'clock the smell of bread drifts over the water.",
    ]


def test_clause_cut_prefers_clause_punctuation_in_the_middle_half() -> None:
    tokens = ["one", "two", "three", "four,", "five", "six", "seven", "eight", "nine", "ten", "eleven"]
    assert tokens[clause_cut(tokens) or 0] == "five"
    # Clause punctuation at the very start is too far from the middle: the middle word wins.
    tokens = [
        "one,",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
    ]
    assert clause_cut(tokens) == 6


def test_clause_cut_never_leaves_a_run_without_a_spoken_word() -> None:
    assert clause_cut(["—", "—", "—"]) is None
    assert clause_cut(["—", "hello"]) is None
    assert clause_cut(["—", "hello", "—", "world"]) == 3


@pytest.mark.parametrize("text", BOMBS.values(), ids=BOMBS.keys())
def test_split_to_fit_runs_fit_and_keep_the_sentence_words(text: str) -> None:
    tokens = chop_long_words(text.split())
    runs = split_to_fit(tokens, lambda run: len(" ".join(run)) <= 60)
    assert [token for run in runs for token in run] == tokens
    for run in runs:
        assert len(run) == 1 or len(" ".join(run)) <= 60
    if any(count_words(token) for token in tokens[1:]):
        # Cut only before spoken words: each run's words are the sentence's, in order.
        words = [word for run in runs for word in sentence_words(" ".join(run))]
        assert words == sentence_words(" ".join(tokens))


CHILD = """
import json, sys
from reelkube.api.ttsjob import VoiceSpec
from reelkube.speech.script import split_script
from reelkube.speech.synthesis import synthesize_narration
from reelkube.speech.voice import load_voice, locate_voice
sentences = split_script(sys.stdin.read())
narration = synthesize_narration(load_voice(locate_voice(VoiceSpec())), sentences, VoiceSpec())
print(json.dumps([
    {"text": s.text, "start": s.start_sample, "end": s.end_sample, "rate": narration.sample_rate,
     "words": [[w.text, w.start, w.end] for w in s.words]}
    for s in narration.timings.sentences
]))
"""

MEMORY_CEILING_MIB = 1024


@pytest.mark.slow
def test_a_2000_character_unpunctuated_text_narrates_under_1_gib() -> None:
    # Before the bounds, 886 bytes of /etc/passwd peaked at 1,984 MiB and this text went higher.
    text = GLUED[:1700] + " " + PASSWD[:300]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD],
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=err,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert proc.stdin is not None
        proc.stdin.write(text.encode())
        proc.stdin.close()
        _, status, usage = os.wait4(proc.pid, 0)
        out.seek(0)
        err.seek(0)
        assert os.waitstatus_to_exitcode(status) == 0, err.read().decode()[-2000:]
        sentences = json.loads(out.read().decode().strip().splitlines()[-1])
    peak_mib = usage.ru_maxrss / 1024
    assert peak_mib < MEMORY_CEILING_MIB, f"peak RSS {peak_mib:.0f} MiB"
    # Word timings stay whole across the Piper calls a sentence was cut into: every word of the
    # sentence once, in order, inside the sentence and without overlap.
    for sentence in sentences:
        assert [w[0] for w in sentence["words"]] == sentence_words(sentence["text"])
        rate = sentence["rate"]
        edges = [sentence["start"] / rate - 1e-6]
        for _, start, end in sentence["words"]:
            assert edges[-1] <= start <= end
            edges.append(end)
        assert edges[-1] <= sentence["end"] / rate + 1e-6
