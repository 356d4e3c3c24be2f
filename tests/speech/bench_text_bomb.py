"""Text-bomb benchmark (a script, not a test): the narration's peak RSS and wall time for scripts
with no sentence punctuation, each narrated (split, Piper, loudness) in a new process.

    python tests/speech/bench_text_bomb.py [--chars 50000] [--json]

Cases: `unpunctuated`, ordinary lower-case words with no punctuation at all (--chars long, 50,000
by default: the default maxScriptChars); `passwd`, an 886-byte /etc/passwd-like text (colon
separated tokens, no spaces within a line); `token`, one 900-character base64 token. Peak RSS is
the child's largest resident set from wait4() (Piper, onnxruntime and the loudness ffmpeg runs
included), so it is the figure a pod's memory limit meets.

Measured on a 2-core machine shared with other work (the voice alone is 338 MB):
- passwd, 886 bytes: 2,026 MB peak before the bounds (2 sentences, one of 518 characters in one
  Piper call), 661 MB after (8 sentences, each Piper call at most 300 phonemes).
- token, 900 characters: 3,394 MB before (one call), 666 MB after.
- unpunctuated, 50,000 characters (755 sentences, 44.5 minutes of speech): synthesis alone 883 MB
  with the track joined from pieces, 694 MB with the track grown in a scratch file (266-500 s);
  the whole narration 4,292 MB in 1,373 s: the rest is loudness normalization
  (speech/loudness.py's limiter holds float64 copies of the whole track).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

PROSE = (
    "the harbour wakes up slowly one light at a time bakers are first and by five the smell of "
    "bread drifts over the water while gulls gather on the roofs fishing boats come back low in "
    "the water their decks shining with the night catch and the market fills with voices"
)

PASSWD_LINES = [
    "root:x:0:0:root:/root:/bin/bash",
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
    "bin:x:2:2:bin:/bin:/usr/sbin/nologin",
    "sys:x:3:3:sys:/dev:/usr/sbin/nologin",
    "sync:x:4:65534:sync:/bin:/bin/sync",
    "games:x:5:60:games:/usr/games:/usr/sbin/nologin",
    "man:x:6:12:man:/var/cache/man:/usr/sbin/nologin",
    "lp:x:7:7:lp:/var/spool/lpd:/usr/sbin/nologin",
    "mail:x:8:8:mail:/var/mail:/usr/sbin/nologin",
    "news:x:9:9:news:/var/spool/news:/usr/sbin/nologin",
    "uucp:x:10:10:uucp:/var/spool/uucp:/usr/sbin/nologin",
    "proxy:x:13:13:proxy:/bin:/usr/sbin/nologin",
    "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin",
    "backup:x:34:34:backup:/var/backups:/usr/sbin/nologin",
    "list:x:38:38:Mailing List Manager:/var/list:/usr/sbin/nologin",
    "irc:x:39:39:ircd:/run/ircd:/usr/sbin/nologin",
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
    "systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin",
    "_apt:x:42:65534::/nonexistent:/usr/sbin/nologin",
]

CHILD = """
import json, sys, time
from pathlib import Path
from reelkube.api.ttsjob import VoiceSpec
from reelkube.speech.narration import narrate
started = time.monotonic()
files = narrate(Path(sys.argv[1]).read_text(), VoiceSpec(), Path(sys.argv[2]))
print(json.dumps({
    "sentences": len(files.timings.sentences), "audio_seconds": files.duration,
    "narrate_seconds": time.monotonic() - started, "synthesis_seconds": files.synthesis_seconds,
}))
"""


def unpunctuated_text(chars: int) -> str:
    """Lower-case words and single spaces, no punctuation, exactly `chars` characters long."""
    vocabulary = PROSE.split()
    words: list[str] = []
    length = 0
    index = 0
    while length < chars:
        word = vocabulary[index % len(vocabulary)]
        words.append(word)
        length += len(word) + 1
        index += 1
    return " ".join(words)[:chars].rstrip()


def passwd_text() -> str:
    """About 886 bytes of /etc/passwd-like lines (made up here: no real file is read)."""
    return ("\n".join(PASSWD_LINES) + "\n")[:886]


def token_text() -> str:
    """A 900-character base64 token with no spaces (like a service-account token)."""
    digest = b"".join(hashlib.sha256(bytes([i])).digest() for i in range(32))
    return base64.b64encode(digest).decode()[:900]


def narrate_measured(text: str) -> dict[str, Any]:
    """Narrate `text` in a child process: its result, wall seconds and peak RSS in MiB."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "script.txt"
        script.write_text(text)
        started = time.monotonic()
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(
                [sys.executable, "-c", CHILD, str(script), tmp], cwd=ROOT, stdout=out, stderr=err
            )
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.monotonic() - started
            out.seek(0)
            err.seek(0)
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(f"narration failed:\n{err.read().decode()[-2000:]}")
            result: dict[str, Any] = json.loads(out.read().decode().strip().splitlines()[-1])
    result.update(chars=len(text), wall_seconds=wall, peak_rss_mib=usage.ru_maxrss / 1024)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=50_000, help="length of the unpunctuated script")
    parser.add_argument(
        "--cases", default="passwd,token,unpunctuated", help="comma-separated: passwd, token, unpunctuated"
    )
    parser.add_argument("--json", action="store_true", help="print the raw measurements as JSON")
    args = parser.parse_args()
    texts = {
        "passwd": passwd_text,
        "token": token_text,
        "unpunctuated": lambda: unpunctuated_text(args.chars),
    }
    results = {name: narrate_measured(texts[name]()) for name in args.cases.split(",")}
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for name, result in results.items():
        print(
            f"{name:>13}: {result['chars']:>6} chars, {result['sentences']:>5} sentences, "
            f"{result['audio_seconds']:8.1f} s of audio in {result['wall_seconds']:7.1f} s, "
            f"peak RSS {result['peak_rss_mib']:7.1f} MiB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
