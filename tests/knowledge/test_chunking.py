"""Chunking an article's body: sizes, overlap, boundaries (pure functions)."""

from __future__ import annotations

import itertools
import re

import pytest

from core.knowledge.chunking import chunk_text

WORDS = [f"word{i}" for i in range(2_000)]


def test_chunks_respect_the_size_and_cover_every_word_with_overlap() -> None:
    text = " ".join(WORDS)
    chunks = chunk_text(text, 500, 100)
    assert len(chunks) > 10 and all(len(c) <= 500 for c in chunks)
    covered = [w for c in chunks for w in c.split()]
    assert set(covered) == set(WORDS)  # nothing lost
    assert all(re.fullmatch(r"word\d+", w) for w in covered)  # never cut inside a word
    for a, b in itertools.pairwise(chunks):
        shared = set(a.split()) & set(b.split())
        assert shared, "consecutive chunks overlap"
        assert len(" ".join(sorted(shared))) <= 120


def test_no_overlap_means_no_repeat() -> None:
    chunks = chunk_text(" ".join(WORDS), 300, 0)
    words = [w for c in chunks for w in c.split()]
    assert words == WORDS


def test_cuts_prefer_paragraphs_then_sentences() -> None:
    para = "First sentence here. " * 10
    text = para.strip() + "\n\n" + para.strip()
    chunks = chunk_text(text, len(para) + 20, 0)
    assert chunks[0] == para.strip()
    sentences = chunk_text("Alpha beta gamma. " * 40, 150, 0)
    assert all(c.endswith(".") for c in sentences)


def test_blank_text_and_bad_settings() -> None:
    assert chunk_text("   \n ", 500, 50) == []
    assert chunk_text("short", 500, 50) == ["short"]
    with pytest.raises(ValueError):
        chunk_text("x", 50, 0)
    with pytest.raises(ValueError):
        chunk_text("x", 500, 300)
    giant = "x" * 1_050
    assert [len(c) for c in chunk_text(giant, 500, 0)] == [500, 500, 50]
