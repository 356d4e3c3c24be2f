"""A brief -> scene drafts: what each scene says, shows and writes, before any timing. Pure.

A script is split with the narration service's rules (`speech.script.split_script`: sentences,
very short ones merged, very long ones split), one scene per resulting sentence; each paragraph
is a section, and its first scene carries the section's heading. A list of scenes is taken as
written; its narration is split the same way so captions and timings stay per sentence.
A scene without a visual gets a query made from its narration's content words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from reelkube.scenes.brief import AssetKind, OnScreenText, SceneSpec, Visual
from reelkube.speech.script import split_script

_PARAGRAPH = re.compile(r"\n\s*\n")
_WORD = re.compile(r"[\w'’-]+")
HEADING_WORDS = 6
"""A heading made from a sentence keeps at most this many words."""
QUERY_WORDS = 6

STOPWORDS = frozenset(
    """a an and are as at be been but by can could did do does for from had has have he her his how
    i if in into is it its just like may more most much my no not of on one or our out over so
    some than that the their them then there these they this those to up us was we were what
    when where which while who why will with would you your all any also about after before
    every each get got here very only own same such too both few many make made first last
    next new way ways thing things""".split()  # noqa: SIM905 (a word list reads better as text)
)  # fmt: skip


@dataclass(frozen=True)
class SceneDraft:
    """A scene before timing: its narration as sentences, its text and what to show."""

    index: int
    sentences: tuple[str, ...]
    text: OnScreenText = field(default_factory=OnScreenText)
    visual: Visual | None = None
    """A URL, a query, or None for the designed card."""
    section: int = 0
    """Index of the paragraph (script) or 0 (scene list)."""
    min_duration: float | None = None
    layout: str | None = None
    transition: str | None = None
    voiceover: str | None = None
    """A recorded voice-over played over the scene instead of synthesized speech."""

    @property
    def narration(self) -> str:
        return " ".join(self.sentences)


def content_words(text: str) -> list[str]:
    """Lower-case words of `text` that carry meaning (no stopwords, no numbers), in order, once."""
    seen: list[str] = []
    for match in _WORD.finditer(text.lower()):
        word = match.group(0).strip("'’-")
        if len(word) > 2 and not word.isdigit() and word not in STOPWORDS and word not in seen:
            seen.append(word)
    return seen


def query_for(text: str) -> str | None:
    """A library query from narration: its first content words; None when it has none."""
    words = content_words(text)[:QUERY_WORDS]
    return " ".join(words) or None


def heading_for(sentence: str) -> str:
    """A short heading from a sentence: its first words, without the closing punctuation."""
    words = sentence.split()
    heading = " ".join(words[:HEADING_WORDS]).rstrip(",;:.!?")
    return heading + ("…" if len(words) > HEADING_WORDS else "")


def drafts_from_script(script: str, *, headings: bool = True) -> list[SceneDraft]:
    """One scene per sentence (see `split_script`), paragraphs as sections; with `headings`, each
    section's first scene is headed by its first words."""
    drafts: list[SceneDraft] = []
    paragraphs = [p for p in _PARAGRAPH.split(script) if p.strip()]
    for section, paragraph in enumerate(paragraphs):
        for position, sentence in enumerate(split_script(paragraph)):
            heading = heading_for(sentence) if headings and position == 0 else None
            text = OnScreenText(heading=heading)
            query = query_for(sentence)
            drafts.append(
                SceneDraft(
                    index=len(drafts),
                    sentences=(sentence,),
                    text=text,
                    visual=Visual(query=query) if query else None,
                    section=section,
                )
            )
    return drafts


def drafts_from_scenes(scenes: list[SceneSpec]) -> list[SceneDraft]:
    """The scenes as written; narration split into sentences for timing, a query made from the
    narration (or heading) where no visual is given."""
    drafts = []
    for index, scene in enumerate(scenes):
        sentences = tuple(split_script(scene.narration)) if scene.narration else ()
        visual = scene.visual
        if visual is None:
            words = " ".join(filter(None, [scene.text.heading, scene.narration, scene.text.bullet]))
            query = query_for(words)
            visual = Visual(query=query) if query else None
        elif visual.url is None and visual.query is None:
            visual = None
        drafts.append(
            SceneDraft(
                index=index,
                sentences=sentences,
                text=scene.text,
                visual=visual,
                min_duration=scene.duration,
                layout=scene.layout,
                transition=scene.transition.value if scene.transition else None,
                voiceover=scene.voiceoverUrl,
            )
        )
    return drafts


def url_kind(url: str, declared: AssetKind | None) -> AssetKind:
    """The kind of a visual URL: as declared, else by its extension."""
    if declared is not None:
        return declared
    path = url.split("?", 1)[0].lower()
    video = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".gif")
    return AssetKind.VIDEO if path.endswith(video) else AssetKind.IMAGE
