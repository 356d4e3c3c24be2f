"""Narration with Piper: script splitting, synthesis, word timings, loudness, TTSJob runs.

Entry points: `reelkube.speech.tts.run_tts_job` (a TTSJob, locally) and
`reelkube.speech.narration.narrate` (text -> normalized WAV + timings, used by the narrated
template).

Speech sits above subtitles: it writes `reelkube.subtitles.timings` and subtitle files.
"""
