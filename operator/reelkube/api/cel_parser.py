"""celpy's CEL parser, built from Lark's cached grammar analysis instead of from scratch.

celpy builds its Lark LALR parser on first use in every process: about half a second of table
construction, paid by each `reelkube render`, `validate` and `job` before any work starts. Lark
can store that analysis in a file and load it in milliseconds (its `cache` option, keyed by a
digest of the grammar, the options and the Lark and Python versions, so a stale file is rebuilt,
never used). This module builds the very parser celpy would build, with that option, and hands it
to celpy. Where no cache folder can be written (a read-only pod filesystem), celpy builds its own.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import celpy.celparser
import lark
from celpy.celparser import CELParser

from reelkube.api import field_docs
from reelkube.api.field_docs import CACHE_ENV as CACHE_ENV


def parser_options() -> dict[str, object]:
    """The options celpy's CELParser gives Lark (celpy 0.5), less the cache."""
    return {
        "parser": "lalr",
        "start": "expr",
        "debug": True,
        "g_regex_flags": re.M,
        "lexer_callbacks": {"IDENT": CELParser.ambiguous_literals},
        "propagate_positions": True,
        "maybe_placeholders": False,
        "priority": "invert",
        "tree_class": lark.Tree,
    }


def cache_dir() -> Path:
    """Where the parser tables are kept: $REELKUBE_CACHE, else ~/.cache/reelkube."""
    return field_docs.cache_dir()


def install_cached_parser() -> bool:
    """Give celpy a parser loaded from (or saved to) the cache; False when celpy builds its own."""
    if CELParser.CEL_PARSER is not None:
        return True
    try:
        folder = cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            return False
    except OSError:
        return False
    grammar = (Path(celpy.celparser.__file__).parent / "cel.lark").read_text(encoding="utf-8")
    CELParser.CEL_PARSER = lark.Lark(grammar, cache=str(folder / "cel-parser.lark"), **parser_options())
    return True
