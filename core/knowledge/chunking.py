"""Cutting an article's body into chunks for retrieval (pure functions, no I/O).

A chunk holds at most ``size`` characters and starts ``overlap`` characters (rounded to
a word) before the previous one ended, so a sentence cut at a boundary is whole in one
of the two. Cuts fall on the last paragraph break, else sentence end, else space in the
second half of the window; a single word longer than the window is cut where it must be.
"""

from __future__ import annotations

import re

MIN_CHUNK_SIZE = 100
MAX_CHUNK_SIZE = 8_000

_BREAKS = (re.compile(r"\n\s*\n"), re.compile(r"[.!?]\s"), re.compile(r"\s"))


def _cut(text: str, start: int, end: int) -> int:
    """Where to end the chunk that starts at ``start`` (at most ``end``)."""
    if end >= len(text):
        return len(text)
    floor = start + (end - start) // 2
    for pattern in _BREAKS:
        last = None
        for m in pattern.finditer(text, floor, end):
            last = m
        if last is not None:
            return last.end() if pattern is not _BREAKS[2] else last.start()
    return end


def chunk_text(text: str, size: int, overlap: int) -> list[str]:
    """``text`` cut into chunks of at most ``size`` characters overlapping by about
    ``overlap``; blank text gives none."""
    if not MIN_CHUNK_SIZE <= size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk size must be {MIN_CHUNK_SIZE}-{MAX_CHUNK_SIZE}")
    if not 0 <= overlap <= size // 2:
        raise ValueError("chunk overlap must be between 0 and half the chunk size")
    text = text.strip()
    chunks: list[str] = []
    start = 0
    while start < len(text):
        end = _cut(text, start, start + size)
        piece = text[start:end].strip()
        if piece:
            chunks.append(piece)
        if end >= len(text):
            break
        nxt = max(end - overlap, start + 1)
        if overlap:  # begin the overlap on a word, not inside one
            space = text.find(" ", nxt, end)
            nxt = space + 1 if space != -1 else nxt
        while nxt < len(text) and text[nxt].isspace():
            nxt += 1
        start = nxt
    return chunks
