"""Script processing: text -> sentences of a speakable, subtitle-friendly length. Pure.

Rules, in order:
1. Split into sentences at `.`, `!`, `?` (and `...` before a capital) followed by whitespace,
   and at blank lines. Abbreviations (Mr., Dr., e.g., i.e., U.S., etc.), decimals (3.14),
   ellipses and numbers such as 1,000 stay inside their sentence.
2. Split sentences over MAX_WORDS words at commas (or ; : and dashes), else before a
   conjunction (and, but, or, so, because, which, ...), near the middle; as a last resort at
   the middle word.
3. Merge sentences under MIN_WORDS words into a neighbour, when the result stays within
   MAX_WORDS.

Text bombs: memory in Piper grows with the length of what one call is given, so no sentence is
longer than MAX_SENTENCE_CHARS characters (cut at clause punctuation, else between words) and no
word longer than MAX_WORD_CHARS (a longer token, such as a base64 token or a path with no spaces,
is chopped). Synthesis bounds each Piper call in phonemes on top of this (`speech.synthesis`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

MIN_WORDS = 5
MAX_WORDS = 20
MAX_SENTENCE_CHARS = 200
"""Longest sentence, in characters: a 20-word sentence of ordinary prose is about 120."""
MAX_WORD_CHARS = 40
"""Longest token kept whole (English words stay under 30); longer ones are chopped."""

# Abbreviations after which a period never ends a sentence (titles and Latin shorthands).
NEVER_ENDS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "e.g", "i.e", "cf", "approx",
        "no", "nos", "vol", "fig", "gen", "gov", "sen", "rep", "rev", "capt", "col", "lt", "sgt",
        "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    }
)  # fmt: skip
# Abbreviations that may end a sentence, but only when a capitalised word follows.
ENDS_BEFORE_CAPITAL = frozenset({"etc", "inc", "ltd", "co", "corp", "a.m", "p.m", "al"})

CONJUNCTIONS = frozenset(
    {
        "and", "but", "or", "so", "because", "which", "while", "although", "though", "whereas",
        "unless", "since", "yet", "nor", "however", "where", "when", "until", "after", "before",
    }
)  # fmt: skip

# A candidate sentence end: terminal punctuation (with closing quotes/brackets) then whitespace.
_END = re.compile(r"(\.\.\.|…|[.!?]+)([\"'”’)\]]*)(\s+)")
_PARAGRAPH = re.compile(r"\n\s*\n")
_WORD_CHAR = re.compile(r"\w")
_CLAUSE_PUNCT = re.compile(r"[,;:]$|[—–]$|^[—–-]+$")
_INITIALISM = re.compile(r"^(?:[A-Za-z]\.)+[A-Za-z]$")


def split_script(text: str) -> list[str]:
    """Split a narration script into sentences (see the module docstring for the rules)."""
    sentences: list[str] = []
    for paragraph in _PARAGRAPH.split(text):
        paragraph = " ".join(paragraph.split())
        if paragraph:
            sentences.extend(_split_sentences(paragraph))
    bounded: list[str] = []
    for sentence in sentences:
        bounded.extend(_split_long(chop_long_words(sentence.split())))
    return _merge_short(bounded)


def chop_long_words(tokens: Sequence[str], max_chars: int = MAX_WORD_CHARS) -> list[str]:
    """`tokens` with every token over `max_chars` characters chopped into pieces of at most
    `max_chars`, each cut after the window's last punctuation mark (`/`, `:`, `-` ...) when that
    keeps at least half the window, else at `max_chars`."""
    chopped: list[str] = []
    for token in tokens:
        while len(token) > max_chars:
            window = token[:max_chars]
            cut = max((i + 1 for i, c in enumerate(window) if not c.isalnum()), default=0)
            if cut < max_chars // 2:
                cut = max_chars
            chopped.append(token[:cut])
            token = token[cut:]
        if token:
            chopped.append(token)
    return chopped


def split_to_fit(tokens: Sequence[str], fits: Callable[[Sequence[str]], bool]) -> list[list[str]]:
    """Consecutive runs of `tokens` that each `fits` (a run of one token is kept even when it does
    not). Cuts come from `clause_cut` where it finds one, so every run but the first starts with
    a spoken word and the runs' `sentence_words` joined are the whole sentence's; only tokens
    with no such cut (symbols with no letter or digit) are cut at their middle token."""
    if len(tokens) <= 1 or fits(tokens):
        return [list(tokens)]
    # Tokens without a letter or digit to cut before (a run of symbols) are cut at the middle.
    cut = clause_cut(tokens) or len(tokens) // 2
    return split_to_fit(tokens[:cut], fits) + split_to_fit(tokens[cut:], fits)


def clause_cut(tokens: Sequence[str]) -> int | None:
    """Where to cut `tokens` in two by characters: after clause punctuation (, ; : or a dash) in
    the middle half, nearest the middle, else at the word boundary nearest the middle. Only before
    a token holding a letter or digit with one such token before it; None when there is none."""
    total = sum(len(token) + 1 for token in tokens)
    middle = total / 2
    best: tuple[float, int] | None = None
    left = 0
    seen_word = False
    for index, token in enumerate(tokens):
        if index > 0 and seen_word and _WORD_CHAR.search(token):
            distance = abs(left - middle)
            at_clause = bool(_CLAUSE_PUNCT.search(tokens[index - 1])) and distance <= total / 4
            # A clause cut anywhere in the middle half beats any plain word boundary.
            score = distance - (total if at_clause else 0)
            if best is None or score < best[0]:
                best = (score, index)
        seen_word = seen_word or bool(_WORD_CHAR.search(token))
        left += len(token) + 1
    return best[1] if best is not None else None


def sentence_words(sentence: str) -> list[str]:
    """The words of a sentence as shown in subtitles: whitespace tokens, with tokens that hold no
    letter or digit (a lone dash, an ellipsis) attached to the word before them."""
    words: list[str] = []
    pending = ""
    for token in sentence.split():
        if _WORD_CHAR.search(token):
            words.append(f"{pending} {token}".strip() if pending else token)
            pending = ""
        elif words:
            words[-1] = f"{words[-1]} {token}"
        else:
            pending = f"{pending} {token}".strip()
    if pending:
        words.append(pending)
    return words


def count_words(sentence: str) -> int:
    """Words that are spoken: whitespace tokens holding at least one letter or digit."""
    return sum(1 for token in sentence.split() if _WORD_CHAR.search(token))


def _split_sentences(paragraph: str) -> list[str]:
    sentences = []
    start = 0
    for match in _END.finditer(paragraph):
        if _is_sentence_end(paragraph, match):
            sentences.append(paragraph[start : match.end(2)].strip())
            start = match.end()
    tail = paragraph[start:].strip()
    if tail:
        sentences.append(tail)
    return [s for s in sentences if s]


def _is_sentence_end(paragraph: str, match: re.Match[str]) -> bool:
    punct = match.group(1)
    following = paragraph[match.end() :]
    next_is_capital = bool(following) and (following[0].isupper() or following[0] in "\"'“‘(")
    if punct in ("...", "…"):
        # An ellipsis trails off mid-sentence unless a new sentence visibly starts.
        return next_is_capital
    if punct != ".":
        return True
    preceding = paragraph[: match.start()].split()
    last_word = preceding[-1].lstrip("\"'“‘([") if preceding else ""
    key = last_word.lower()
    if key in NEVER_ENDS:
        return False
    if key in ENDS_BEFORE_CAPITAL or _INITIALISM.match(last_word):
        return next_is_capital and not _INITIALISM.match(last_word)
    # A single capital letter before the period is an initial ("John F. Kennedy").
    return not (len(last_word) == 1 and last_word.isupper())


def _split_long(tokens: list[str]) -> list[str]:
    """Split a sentence's tokens until no piece has more than MAX_WORDS words or (tokens being
    at most MAX_WORD_CHARS long) MAX_SENTENCE_CHARS characters."""
    if _words_in(tokens) > MAX_WORDS:
        cut = _best_cut(tokens)
    elif len(" ".join(tokens)) > MAX_SENTENCE_CHARS and len(tokens) > 1:
        # Tokens without a letter or digit (a run of dashes) still have to be cut somewhere.
        cut = clause_cut(tokens) or len(tokens) // 2
    else:
        return [" ".join(tokens)] if tokens else []
    return _split_long(tokens[:cut]) + _split_long(tokens[cut:])


def _best_cut(tokens: list[str]) -> int:
    """Index of the token that starts the second piece: nearest the middle, clause punctuation
    preferred over conjunctions, both pieces at least MIN_WORDS words where possible."""
    total = _words_in(tokens)
    middle = total / 2
    best: tuple[float, int] | None = None
    # Words before each index, counted once: recounting per index made a long unpunctuated
    # script quadratic (10,000 words took minutes).
    left = 0
    for index in range(1, len(tokens)):
        left += 1 if _WORD_CHAR.search(tokens[index - 1]) else 0
        if left < MIN_WORDS or total - left < MIN_WORDS:
            continue
        previous, current = tokens[index - 1], tokens[index]
        if _CLAUSE_PUNCT.search(previous):
            penalty = 0.0
        elif current.lower().strip("\"'“‘(") in CONJUNCTIONS:
            penalty = total / 4  # a conjunction cut must be clearly nearer the middle to win
        else:
            continue
        score = abs(left - middle) + penalty
        if best is None or score < best[0]:
            best = (score, index)
    if best is not None:
        return best[1]
    # No clause boundary: cut at the middle word so subtitles stay readable.
    seen = 0
    for index, token in enumerate(tokens):
        seen += 1 if _WORD_CHAR.search(token) else 0
        if seen >= middle:
            return index + 1
    return len(tokens) // 2


def _merge_short(sentences: list[str]) -> list[str]:
    """Merge each sentence under MIN_WORDS words into its shorter neighbour, within MAX_WORDS."""
    merged = list(sentences)
    index = 0
    while index < len(merged):
        words = count_words(merged[index])
        if words >= MIN_WORDS or len(merged) == 1:
            index += 1
            continue
        options = []
        if index > 0:
            options.append((count_words(merged[index - 1]), index - 1))
        if index + 1 < len(merged):
            options.append((count_words(merged[index + 1]), index + 1))
        options = [
            (n, i)
            for n, i in sorted(options)
            if n + words <= MAX_WORDS and len(merged[i]) + 1 + len(merged[index]) <= MAX_SENTENCE_CHARS
        ]
        if not options:
            index += 1
            continue
        neighbour = options[0][1]
        first, second = sorted((index, neighbour))
        merged[first : second + 1] = [f"{merged[first]} {merged[second]}"]
        index = first  # the merged sentence may still be short
    return merged


def _words_in(tokens: list[str]) -> int:
    return sum(1 for token in tokens if _WORD_CHAR.search(token))
