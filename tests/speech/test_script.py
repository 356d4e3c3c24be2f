"""Script splitting rules, on awkward text."""

from __future__ import annotations

import pytest

from reelkube.speech.script import MAX_WORDS, MIN_WORDS, count_words, sentence_words, split_script


def test_plain_sentences_split_at_terminal_punctuation() -> None:
    text = "The first sentence is right here. The second one asks a question? The third one shouts it out!"
    assert split_script(text) == [
        "The first sentence is right here.",
        "The second one asks a question?",
        "The third one shouts it out!",
    ]


@pytest.mark.parametrize(
    "sentence",
    [
        "Mr. Smith and Mrs. Brown met Dr. Jones on the corner today.",
        "We use tools, e.g. hammers, and parts, i.e. nails, every single day.",
        "The U.S. Navy and the U.K. Army trained together for a month.",
        "The value of pi is about 3.14 and that of e is about 2.718 exactly.",
        "The crowd counted 1,000 people and then 25,000 more people arrived.",
        "She waited for a while... and then she quietly walked home alone.",
        "President John F. Kennedy spoke to the nation on the radio.",
    ],
)
def test_abbreviations_decimals_numbers_and_ellipses_stay_in_their_sentence(sentence: str) -> None:
    assert split_script(f"{sentence} Here is another full sentence after it.") == [
        sentence,
        "Here is another full sentence after it.",
    ]


def test_ellipsis_before_a_capital_ends_the_sentence() -> None:
    text = "We waited and waited for the bus to come... Nobody ever showed up at the stop."
    assert split_script(text) == [
        "We waited and waited for the bus to come...",
        "Nobody ever showed up at the stop.",
    ]


def test_etc_ends_a_sentence_only_before_a_capital() -> None:
    text = "We bought apples, pears, etc. and then we went home. Then it rained all day long."
    assert split_script(text) == [
        "We bought apples, pears, etc. and then we went home.",
        "Then it rained all day long.",
    ]


def test_short_sentences_merge_into_a_neighbour() -> None:
    text = "Hi there. This sentence has quite a few words in it. Yes. And this one is long enough too."
    sentences = split_script(text)
    assert sentences == [
        "Hi there. This sentence has quite a few words in it.",
        "Yes. And this one is long enough too.",
    ]
    assert all(count_words(s) >= MIN_WORDS for s in sentences)


def test_a_short_script_stays_one_sentence() -> None:
    assert split_script("Hello.") == ["Hello."]
    assert split_script("   ") == []


def test_long_sentences_split_at_commas_first() -> None:
    text = (
        "When the morning light finally reached the quiet little harbour town at the edge of the sea, "
        "the fishermen pulled their heavy boats onto the cold wet sand and began to sort the catch."
    )
    first, second = split_script(text)
    assert first.endswith("sea,")
    assert second.startswith("the fishermen")
    assert all(count_words(s) <= MAX_WORDS for s in (first, second))


def test_long_sentences_without_commas_split_before_a_conjunction() -> None:
    text = (
        "The engineers tested the new bridge for many long weeks in the cold rain "
        "because the city council wanted proof that it would hold the heaviest trucks in town."
    )
    pieces = split_script(text)
    assert len(pieces) == 2
    assert pieces[1].startswith("because")


def test_very_long_sentences_end_up_within_the_limit_and_keep_every_word() -> None:
    words = [f"word{i}" for i in range(75)]
    text = " ".join(words[:30]) + ", " + " ".join(words[30:]) + "."
    pieces = split_script(text)
    assert all(count_words(p) <= MAX_WORDS for p in pieces)
    assert " ".join(pieces).replace(",", "").replace(".", "").split() == words


def test_numbers_with_commas_are_never_split_points() -> None:
    text = (
        "The survey counted 1,000 birds and 2,500 fish and 12,000 insects and 7 frogs "
        "near the lake during the long and rather rainy summer of that particular year."
    )
    joined = " ".join(split_script(text))
    for number in ("1,000", "2,500", "12,000"):
        assert number in joined.split()


def test_blank_lines_end_sentences() -> None:
    text = "A heading without a full stop here\n\nThe paragraph below it has its own words."
    assert split_script(text) == [
        "A heading without a full stop here",
        "The paragraph below it has its own words.",
    ]


def test_sentence_words_attach_lone_punctuation() -> None:
    assert sentence_words("Wait — what did you say ?") == ["Wait —", "what", "did", "you", "say ?"]
    assert sentence_words("— Begin here") == ["— Begin", "here"]
