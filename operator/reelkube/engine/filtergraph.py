"""A small builder for one ffmpeg `-filter_complex` graph, with correct escaping.

ffmpeg parses a graph twice: the graph parser splits filters on `[],;` (stripping one level of
quotes and backslashes), then each filter parses `key=value:...` (stripping another level). A
value that contains any special character is therefore escaped for both levels here, so that
user data (file paths) can never end a filter or inject another one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_.#@+\-*/()<>|!~]*")
_OPTION_SPECIAL = re.compile(r"[\\':]")
_GRAPH_SPECIAL = re.compile(r"([\\'\[\],;])")


def escape_option_value(value: str) -> str:
    """Escape one filter option value for both parsing levels of `-filter_complex`."""
    if _PLAIN_VALUE.fullmatch(value):
        return value
    # Level 1 (option parser): quote when `\`, `'`, `:` or surrounding spaces would be read.
    level1 = value
    if _OPTION_SPECIAL.search(value) or value != value.strip():
        level1 = "'" + value.replace("'", "'\\''") + "'"
    # Level 2 (graph parser): backslash-escape what would end or quote a filter.
    return _GRAPH_SPECIAL.sub(r"\\\1", level1)


def filter_spec(name: str, *args: str | float | int, **options: str | float | int | bool | None) -> str:
    """`name=arg:arg:key=value:...` with every value escaped; None options are left out."""
    parts = [escape_option_value(format_number(a)) for a in args]
    for key, value in options.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = int(value)
        parts.append(f"{key}={escape_option_value(format_number(value))}")
    return f"{name}={':'.join(parts)}" if parts else name


def format_number(value: str | float | int) -> str:
    """Numbers without float noise (`0.30000000000000004` -> `0.3`); strings unchanged."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        text = f"{value:.6f}".rstrip("0").rstrip(".")
        return text if text not in ("", "-0") else "0"
    return str(value)


@dataclass
class FilterGraph:
    """Accumulates `[in]filter,filter[out]` chains with unique stream labels."""

    chains: list[str] = field(default_factory=list)
    _counter: int = 0

    def label(self, prefix: str) -> str:
        """A fresh stream label such as `v3`."""
        self._counter += 1
        return f"{prefix}{self._counter}"

    def add(self, inputs: list[str], filters: list[str], output: str | None = None) -> str:
        """Append `[a][b]f1,f2[out]`; returns the output label (a fresh one when not given)."""
        out = output or self.label("s")
        ins = "".join(f"[{name}]" for name in inputs)
        body = ",".join(filters) if filters else "null"
        self.chains.append(f"{ins}{body}[{out}]")
        return out

    def render(self) -> str:
        """The graph text for `-filter_complex`, one chain per line for readability."""
        return ";\n".join(self.chains)
