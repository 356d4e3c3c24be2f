"""The render engine: fetch inputs, plan one ffmpeg graph from a timeline, run it.

`plan` is pure (timeline -> ffmpeg argv); `execute` runs it with progress and cancellation;
`render` is the job-level API used by the command line and the in-pod runner.
"""
