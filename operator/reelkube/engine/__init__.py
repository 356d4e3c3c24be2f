"""The render engine: fetch inputs, plan one ffmpeg graph from a timeline, run it.

`plan` is pure (timeline -> ffmpeg argv): it walks the timeline while `visual`, `text` (with
`emoji_text` for lines drawn through libass), `subtitles` and `audio` add to one `Invocation`;
`filtergraph` and `ass` escape what goes into the graph and into ASS files. `execute` runs the
plan with progress and cancellation; `render` is the job-level API used by the command line and
the in-pod runner.
"""
