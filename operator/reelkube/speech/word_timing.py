"""Word timings within a sentence, in samples. Pure.

With alignments, Piper reports how many samples each phoneme took. espeak's phonemes do not
map one-to-one onto written words: it joins function words ("in the" -> "ɪnðə"), expands
numbers ("$1,000" -> "dollar one thousand") and reduces vowels in context. So each written
word is phonemized on its own, the concatenation is aligned with the sentence's spoken phonemes
by edit distance, and each word takes the span of the spoken phonemes aligned to it. When the
alignment is too poor (or the voice has none) the words are estimated instead: spread over the
sentence's voiced span by syllables, with a pause after clause punctuation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

Span = tuple[int, int]
Chunk = tuple[int, Sequence[tuple[str, int]]]
"""A synthesized piece of a sentence: its first sample's offset in the sentence and its
(phoneme, num_samples) alignments."""

# Stress and length marks take samples of their own in Piper; they belong to the sound after.
MODIFIERS = frozenset("ˈˌ")
# Padding, word breaks and punctuation: not sounds of any word.
NOT_SOUNDS = frozenset("^$_ ,.;:!?¡¿—–-…\"'«»“”‘’()[]")
MAX_ALIGNMENT_DISTANCE = 0.6
"""Edit distance per phoneme above which the alignment is distrusted and words are estimated."""

_VOWEL_GROUPS = re.compile(r"[aeiouy]+")
_CLAUSE_END = re.compile(r"[,;:—–]$")
_SENTENCE_END = re.compile(r"[.!?…]$")


def sounding_phonemes(chunks: Sequence[Chunk]) -> list[tuple[str, int, int]]:
    """The sentence's sounds as (phoneme, start sample, end sample), padding and pauses left out;
    a stress mark's samples go to the sound it stresses."""
    sounds: list[tuple[str, int, int]] = []
    for offset, alignments in chunks:
        position = offset
        pending: int | None = None
        for phoneme, samples in alignments:
            if phoneme in MODIFIERS:
                pending = position if pending is None else pending
            elif phoneme not in NOT_SOUNDS:
                sounds.append((phoneme, position if pending is None else pending, position + samples))
                pending = None
            else:
                pending = None
            position += samples
    return sounds


def sounds_of(phonemes: Sequence[Sequence[str]]) -> list[str]:
    """The sounding phonemes of a phonemizer's output (for one written word)."""
    return [p for sentence in phonemes for p in sentence if p not in MODIFIERS and p not in NOT_SOUNDS]


def align_words(
    word_sounds: Sequence[Sequence[str]], spoken: Sequence[tuple[str, int, int]]
) -> list[Span] | None:
    """Span of each word: the spoken sounds aligned (by edit distance) to the word's own sounds.
    None when the alignment is too poor to trust."""
    expected = [(sound, word) for word, sounds in enumerate(word_sounds) for sound in sounds]
    if not expected or not spoken:
        return None
    owners, distance = _edit_alignment([s for s, _ in expected], [s for s, _, _ in spoken])
    if distance / max(len(expected), len(spoken)) > MAX_ALIGNMENT_DISTANCE:
        return None
    spans: list[list[int] | None] = [None] * len(word_sounds)
    current_word = expected[0][1]
    for spoken_index, owner in enumerate(owners):
        # Spoken sounds matched to nothing (an expansion such as "e.g." -> "for example") join
        # the word of the sound before them.
        if owner is not None:
            current_word = expected[owner][1]
        _, start, end = spoken[spoken_index]
        span = spans[current_word]
        if span is None:
            spans[current_word] = [start, end]
        else:
            span[1] = end
    result: list[Span] = []
    at = spoken[0][1]
    for span in spans:
        if span is None:  # a word spoken as nothing: zero length where the speech is
            result.append((at, at))
        else:
            result.append((span[0], span[1]))
            at = span[1]
    return result


def _edit_alignment(expected: Sequence[str], spoken: Sequence[str]) -> tuple[list[int | None], int]:
    """For each spoken sound, the index of the expected sound it matched or replaced (None when
    inserted), and the edit distance. Levenshtein with a standard backtrace."""
    rows, cols = len(expected), len(spoken)
    cost = [[0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(rows + 1):
        cost[i][0] = i
    for j in range(cols + 1):
        cost[0][j] = j
    for i in range(1, rows + 1):
        row, above = cost[i], cost[i - 1]
        for j in range(1, cols + 1):
            substitute = above[j - 1] + (expected[i - 1] != spoken[j - 1])
            row[j] = min(substitute, above[j] + 1, row[j - 1] + 1)
    owners: list[int | None] = [None] * cols
    i, j = rows, cols
    # Ties go to exact matches first, then to insertions: spoken sounds beyond a word's own (an
    # expansion) then follow its substituted sounds and stay with it, not with the word before.
    while i > 0 and j > 0:
        same = expected[i - 1] == spoken[j - 1]
        if same and cost[i][j] == cost[i - 1][j - 1]:
            owners[j - 1] = i - 1
            i, j = i - 1, j - 1
        elif cost[i][j] == cost[i][j - 1] + 1:
            j -= 1
        elif cost[i][j] == cost[i - 1][j - 1] + 1:
            owners[j - 1] = i - 1
            i, j = i - 1, j - 1
        else:
            i -= 1
    return owners, cost[rows][cols]


def estimate_words(words: Sequence[str], start: int, end: int) -> list[Span]:
    """Spread `words` over [start, end) by syllables, leaving a pause after clause punctuation."""
    if not words:
        return []
    weights = [_syllables(word) for word in words]
    pauses = [_pause_after(word) if i < len(words) - 1 else 0.0 for i, word in enumerate(words)]
    unit = (end - start) / (sum(weights) + sum(pauses))
    spans: list[Span] = []
    cursor = float(start)
    for weight, pause in zip(weights, pauses, strict=True):
        word_end = cursor + weight * unit
        spans.append((round(cursor), round(word_end)))
        cursor = word_end + pause * unit
    # Rounding must not let the last word spill past the sentence.
    spans[-1] = (min(spans[-1][0], end), end)
    return spans


def voiced_span(chunks: Sequence[Chunk], total: int) -> Span:
    """From the first to the last sound (padding excluded); all of [0, total) without alignments."""
    sounds = sounding_phonemes(chunks)
    if not sounds:
        return (0, total)
    return (sounds[0][1], sounds[-1][2])


def _syllables(word: str) -> float:
    lowered = word.lower()
    digits = sum(ch.isdigit() for ch in lowered)
    vowels = len(_VOWEL_GROUPS.findall(re.sub(r"[^a-z]", " ", lowered)))
    # A silent final e ("make") is not a syllable of its own.
    if vowels > 1 and re.search(r"[^aeiouy ]e\b", lowered):
        vowels -= 1
    return float(max(1, vowels + digits))


def _pause_after(word: str) -> float:
    if _CLAUSE_END.search(word):
        return 1.0
    if _SENTENCE_END.search(word):
        return 1.5
    return 0.0
