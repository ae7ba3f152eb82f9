"""Tokenizers (round trips, unknown tokens, JSON) and the truncated-BPTT batches, against hand-built oracles."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recurrax.tasks import lm
from recurrax.tasks.lm._corpus import split_by_fraction

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"


def test_char_tokenizer_round_trip_and_unknown_characters():
    tok = lm.CharTokenizer.fit(TEXT)
    assert tok.vocab[1:] == sorted(set(TEXT)) and len(tok) == len(set(TEXT)) + 1
    ids = tok.encode(TEXT)
    assert ids.dtype == np.int32 and ids.tolist() == [tok.vocab.index(c) for c in TEXT]
    assert tok.decode(ids) == TEXT
    assert tok.encode("Feq.").tolist() == [tok.vocab.index("F"), tok.vocab.index("e"), 0, tok.vocab.index(".")]
    assert tok.decode(tok.encode("Feq")) == "Fe" + tok.unk


def test_char_tokenizer_fits_several_documents():
    assert lm.CharTokenizer.fit(["ab", "ca"]).vocab[1:] == ["a", "b", "c"]


def test_word_tokenizer_round_trip_eos_and_unknown_words():
    text = "the cat sat\non the mat\n\nthe end"
    tok = lm.WordTokenizer.fit(text)
    assert tok.tokens(text) == ["the", "cat", "sat", "<eos>", "on", "the", "mat", "<eos>", "<eos>", "the", "end"]
    assert tok.vocab[:3] == ["<unk>", "<eos>", "the"]  # then by count, ties alphabetical
    assert tok.vocab[3:] == ["cat", "end", "mat", "on", "sat"]
    assert tok.decode(tok.encode(text)) == text
    assert tok.decode(tok.encode("the dog sat\n")) == "the <unk> sat\n"


def test_word_tokenizer_vocabulary_limits():
    text = "a a a b b c\n"
    assert lm.WordTokenizer.fit(text, min_freq=2).vocab == ["<unk>", "<eos>", "a", "b"]
    assert lm.WordTokenizer.fit(text, max_vocab=3).vocab == ["<unk>", "<eos>", "a"]
    ptb_line = " the <unk> rose\n"  # PTB already writes rare words as <unk>: it stays the unknown token
    tok = lm.WordTokenizer.fit(ptb_line)
    assert tok.encode(ptb_line).tolist() == [tok.vocab.index("the"), 0, tok.vocab.index("rose"), 1]


@pytest.mark.parametrize("tokenizer", [lm.CharTokenizer.fit(TEXT), lm.WordTokenizer.fit(TEXT, max_vocab=8)])
def test_tokenizer_json_round_trip(tokenizer):
    restored = lm.tokenizer_from_json(json.loads(json.dumps(tokenizer.to_json())))
    assert type(restored) is type(tokenizer) and restored.vocab == tokenizer.vocab
    assert restored.encode(TEXT + "zz").tolist() == tokenizer.encode(TEXT + "zz").tolist()
    with pytest.raises(ValueError, match="unknown tokenizer kind 'bpe'"):
        lm.tokenizer_from_json({"kind": "bpe"})


def batches(windows, steps):
    return [windows(step) for step in range(steps)]


def test_windows_continue_each_stream_and_targets_are_the_next_token():
    tokens = np.arange(1, 42, dtype=np.int32)  # one document of 41 tokens: 40 (input, target) pairs
    windows = lm.TokenWindows.from_documents([tokens], batch_size=2, seq_len=5)
    assert windows.num_windows == 4 and windows.num_targets == 40
    got = batches(windows, windows.num_windows)
    for b in range(2):
        stream = np.concatenate([batch["inputs"][b] for batch in got])
        targets = np.concatenate([batch["targets"][b] for batch in got])
        np.testing.assert_array_equal(stream, tokens[20 * b : 20 * b + 20])  # windows continue each other
        np.testing.assert_array_equal(targets, tokens[20 * b + 1 : 20 * b + 21])  # shifted by one
    assert [batch["reset"].tolist() for batch in got] == [[True, True], [False, False], [False, False], [False, False]]
    assert all(batch["mask"].all() for batch in got)


def test_reset_flags_at_document_starts_and_at_every_wrap():
    docs = [np.arange(100, 108, dtype=np.int32), np.arange(200, 203, dtype=np.int32), np.array([7], np.int32)]
    windows = lm.TokenWindows.from_documents(docs, batch_size=2, seq_len=3)
    # doc 0: 7 pairs -> windows [100..102] [103..105] [106 + 2 pads]; doc 1: 2 pairs -> [200, 201 + pad];
    # doc 2 (one token) has no pair. 4 windows over 2 streams: stream 0 = windows 0, 1; stream 1 = 2, 3.
    assert windows.num_windows == 2
    first, second = windows(0), windows(1)
    np.testing.assert_array_equal(first["inputs"], [[100, 101, 102], [106, 0, 0]])
    np.testing.assert_array_equal(second["inputs"], [[103, 104, 105], [200, 201, 0]])
    np.testing.assert_array_equal(second["targets"], [[104, 105, 106], [201, 202, 0]])
    np.testing.assert_array_equal(first["mask"], [[True, True, True], [True, False, False]])
    np.testing.assert_array_equal(second["mask"], [[True, True, True], [True, True, False]])
    assert first["reset"].tolist() == [True, True] and second["reset"].tolist() == [False, True]
    wrapped = windows(2)  # the next epoch starts over, from a zero state
    assert wrapped["reset"].tolist() == [True, True]
    np.testing.assert_array_equal(wrapped["inputs"], first["inputs"])
    assert windows.num_targets == 9


def test_windows_are_deterministic_in_the_step():
    rng = np.random.default_rng(0)
    docs = [rng.integers(0, 50, n).astype(np.int32) for n in (30, 7, 55)]
    a = lm.TokenWindows.from_documents(docs, batch_size=3, seq_len=4)
    b = lm.TokenWindows.from_documents(docs, batch_size=3, seq_len=4)
    for step in (5, 0, 17, 5):
        for name, value in a(step).items():
            np.testing.assert_array_equal(value, b(step)[name])
            np.testing.assert_array_equal(value, a(step + a.num_windows)[name])


def test_windows_need_a_pair():
    with pytest.raises(ValueError, match="2 tokens"):
        lm.TokenWindows.from_documents([np.array([3], np.int32)], batch_size=1, seq_len=4)


def test_fraction_split_cuts_documents_in_order():
    cfg = lm.DataConfig(valid_fraction=0.25, test_fraction=0.25)
    splits = split_by_fraction(["abcdef", "gh"], cfg)
    assert splits == {"train": ["abcd"], "valid": ["ef"], "test": ["gh"]}
    words = split_by_fraction(["one two three four\n"], lm.DataConfig(level="word", valid_fraction=0.5))
    assert words == {"train": ["one two three"], "valid": [" four\n"]}  # the cut moves to the next space
