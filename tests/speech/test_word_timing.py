"""Word timings from phoneme alignments (pure), and the estimate used without them."""

from __future__ import annotations

from reelkube.speech.estimate import estimate_timings
from reelkube.speech.word_timing import align_words, estimate_words, sounding_phonemes, sounds_of


def test_sounding_phonemes_skip_padding_and_give_stress_marks_to_the_next_sound() -> None:
    chunk = (1000, [("^", 100), ("h", 10), ("ˈ", 5), ("i", 20), (" ", 7), ("j", 3), (".", 40), ("$", 50)])
    assert sounding_phonemes([chunk]) == [("h", 1100, 1110), ("i", 1110, 1135), ("j", 1142, 1145)]


def test_joined_function_words_are_split_by_their_own_sounds() -> None:
    # espeak says "in the" as one phonetic word "ɪnðə"; each written word still gets its sounds.
    spoken = [
        ("ɪ", 0, 10),
        ("n", 10, 20),
        ("ð", 20, 30),
        ("ə", 30, 40),
        ("k", 50, 60),
        ("æ", 60, 70),
        ("t", 70, 80),
    ]
    spans = align_words([["ɪ", "n"], ["ð", "ə"], ["k", "æ", "t"]], spoken)
    assert spans == [(0, 20), (20, 40), (50, 80)]


def test_expansions_and_reductions_still_align() -> None:
    # "e.g." phonemized alone is "iːdʒiː" but spoken in context as "for example": more sounds,
    # none alike. The words around it anchor the alignment.
    before = [list("wiː"), list("mɛt"), list("æt"), list("nuːn")]
    after = [list("ðɛn"), list("hoʊm")]
    spoken_sounds = [p for w in before for p in w] + list("fɔːɹɛɡzæmpəl") + [p for w in after for p in w]
    spoken = [(ch, 10 * i, 10 * i + 10) for i, ch in enumerate(spoken_sounds)]
    spans = align_words([*before, list("iːdʒiː"), *after], spoken)
    assert spans is not None
    assert spans[:4] == [(0, 30), (30, 60), (60, 80), (80, 120)]
    assert spans[4] == (120, 240)  # all of "for example"
    assert spans[5:] == [(240, 270), (270, 310)]


def test_unrelated_sounds_are_not_trusted() -> None:
    spoken = [(ch, i, i + 1) for i, ch in enumerate("abcdefgh")]
    assert align_words([list("xyz"), list("uvw")], spoken) is None


def test_sounds_of_drops_stress_and_punctuation() -> None:
    assert sounds_of([["h", "ˈ", "ɛ", "l", "o", ",", " "], ["w", "."]]) == ["h", "ɛ", "l", "o", "w"]


def test_estimated_words_fill_the_span_in_order_with_pauses_after_commas() -> None:
    spans = estimate_words(["Hello,", "wonderful", "world."], 1000, 5000)
    assert spans[0][0] == 1000 and spans[-1][1] == 5000
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert spans[1][0] > spans[0][1]  # the comma leaves a pause
    assert spans[1][1] - spans[1][0] > spans[0][1] - spans[0][0]  # three syllables outlast two


def test_voiceover_estimates_spread_sentences_by_length_over_the_duration() -> None:
    timings = estimate_timings(["Short one here.", "A sentence that is three times longer, roughly."], 12.0)
    first, second = timings.sentences
    assert first.start == 0 and abs(second.end - 12.0) < 1e-3
    assert abs(first.end - second.start) < 1e-3
    assert (second.end - second.start) > 2 * (first.end - first.start)
    assert timings.word_timing_source == "estimated"
    for sentence in timings.sentences:
        assert sentence.words[0].start >= sentence.start and sentence.words[-1].end <= sentence.end + 1e-6
