"""The scene layer: a brief (a script, or a list of scenes) -> a storyboard -> a timeline.

Scene-based templates (explainer, shorts, listicle, comparison, sentences) share it. Planning
is pure where it can be and ordered so each step can be tested alone:

- `brief`: the API models a brief is written in (scenes, on-screen text, visuals, the asset
  library, the shared style).
- `splitting`: a script or a list of scenes -> scene drafts (pure).
- `library`: a visual per scene, from a URL, the asset library by relevance, or a fallback
  card (pure).
- `timing`: scene starts and ends from the narration's measured speech, with padding (pure),
  and the voice track laid out to match.
- `storyboard`: the plan as data (`storyboard.json`); `contact_sheet` draws it (ffmpeg).
- `planning`: the steps above run in order for a template (synthesizes speech with Piper).
- `layers`: timeline clips every format shares (scene visuals, fallback cards, captions,
  music, watermark).

Templates call this layer; it calls speech, subtitles and (lazily, to fetch inputs) the engine.
"""
