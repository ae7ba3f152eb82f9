"""Seq2seq: attention weights, padding, the encoder's final state, the scanned decoder against a plain loop and
NumPy, greedy == beam 1, beam search against brute-force enumeration, the numbers task's data and a tiny
end-to-end run."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from recurrax.tasks import seq2seq as S

SRC = np.array([[3, 4, 5, 6, 7], [5, 3, 0, 0, 0], [8, 0, 0, 0, 0]], np.int32)
SRC_LENGTHS = np.array([5, 2, 1], np.int32)
TGT_IN = np.array([[1, 3, 4, 5], [1, 5, 5, 0], [1, 4, 0, 0]], np.int32)


@pytest.fixture(scope="module")
def models():
    keys = jax.random.split(jax.random.key(1), 3)
    return {
        kind: S.Seq2Seq(9, 6, embed_size=5, hidden_size=7, attention=kind, key=k)
        for kind, k in zip(S._model.ATTENTIONS, keys)
    }


@eqx.filter_jit
def _forward(model, src, lengths, tgt_in):
    return model(src, lengths, tgt_in)


@pytest.mark.parametrize("kind", ["additive", "general", "none"])
def test_attention_weights_and_padding(models, kind):
    model = models[kind]
    logits, weights = _forward(model, SRC, SRC_LENGTHS, TGT_IN)
    weights = np.asarray(weights)
    valid = np.arange(5)[None, None, :] < SRC_LENGTHS[:, None, None]
    assert (weights[~np.broadcast_to(valid, weights.shape)] == 0).all()
    if kind == "none":
        assert not weights.any()
    else:
        np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-6)
    noisy = np.where(np.arange(5)[None, :] < SRC_LENGTHS[:, None], SRC, 8).astype(np.int32)
    again, _ = _forward(model, noisy, SRC_LENGTHS, TGT_IN)
    np.testing.assert_array_equal(np.asarray(again), np.asarray(logits))


def test_encoder_starts_the_decoder_from_the_masked_stacks_final_h(models):
    model = models["additive"]
    _, (h_n, _) = model.encoder(model.source_embedding[SRC], jnp.asarray(SRC_LENGTHS))
    final = jnp.concatenate([h_n[-2], h_n[-1]], axis=-1)
    expected = jnp.tanh(final @ model.bridge_weight.T + model.bridge_bias[None])
    _, state = model.encode(jnp.asarray(SRC), jnp.asarray(SRC_LENGTHS))
    np.testing.assert_allclose(np.asarray(state.h), np.asarray(expected), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["additive", "general"])
def test_scanned_decoder_matches_a_plain_loop_and_numpy(models, kind):
    model = models[kind]
    logits, weights = _forward(model, SRC, SRC_LENGTHS, TGT_IN)
    memory, state = model.encode(jnp.asarray(SRC), jnp.asarray(SRC_LENGTHS))
    m = np.asarray(memory.outputs, np.float64)
    for t in range(TGT_IN.shape[1]):
        previous_h = np.asarray(state.h, np.float64)
        state, step_logits, step_weights = model.decode_step(memory, state, jnp.asarray(TGT_IN[:, t]))
        np.testing.assert_allclose(logits[:, t], step_logits, rtol=1e-5, atol=1e-6)
        if kind == "additive":  # s_j = v . tanh(W_q h_{t-1} + U m_j)
            query = previous_h @ np.asarray(model.query_weight, np.float64).T
            scores = np.tanh(m @ np.asarray(model.key_weight, np.float64).T + query[:, None]) @ np.asarray(
                model.score_vector, np.float64
            )
        else:  # s_j = h_t . (W_a m_j)
            scores = np.einsum("bsh,bh->bs", m @ np.asarray(model.key_weight, np.float64).T, np.asarray(state.h))
        for b, n in enumerate(SRC_LENGTHS):
            expected = np.exp(scores[b, :n] - scores[b, :n].max())
            np.testing.assert_allclose(weights[b, t, :n], expected / expected.sum(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kind", ["additive", "none"])
def test_beam_of_one_is_greedy(models, kind):
    model = models[kind]
    greedy, _ = S.greedy_decode(model, jnp.asarray(SRC), jnp.asarray(SRC_LENGTHS), 6)
    beamed, score = S.beam_search(model, jnp.asarray(SRC), jnp.asarray(SRC_LENGTHS), 6, 1)
    np.testing.assert_array_equal(np.asarray(greedy), np.asarray(beamed))
    expected = S.sequence_log_prob(model, jnp.asarray(SRC), jnp.asarray(SRC_LENGTHS), beamed)
    np.testing.assert_allclose(score, expected, rtol=1e-5)
    rows = np.asarray(greedy)
    for row in rows:  # PAD only after EOS, never BOS
        ends = np.flatnonzero(row == S.EOS)
        tail = row[ends[0] + 1 :] if len(ends) else row[:0]
        assert (tail == S.PAD).all() and S.BOS not in row and (row[: len(row) - len(tail)] != S.PAD).all()


def test_beam_search_matches_brute_force(models):
    """Target vocabulary PAD, BOS, EOS + 3 words, at most 3 tokens: all 1 + 3 + 9 + 27 candidates scored."""
    model, max_len = models["general"], 3
    src, lengths = jnp.asarray(SRC[:2]), jnp.asarray(SRC_LENGTHS[:2])
    words = (3, 4, 5)
    candidates = [(S.EOS,), *((w, S.EOS) for w in words)]
    candidates += [(a, b, c) for a in words for b in words for c in (S.EOS, *words)]
    assert len(candidates) == 40
    padded = np.array([list(c) + [S.PAD] * (max_len - len(c)) for c in candidates], np.int32)
    for b in range(2):
        many = jnp.repeat(src[b : b + 1], len(padded), 0), jnp.repeat(lengths[b : b + 1], len(padded))
        scores = S.sequence_log_prob(model, *many, jnp.asarray(padded))
        best = int(np.argmax(scores))
        tokens, score = S.beam_search(model, src[b : b + 1], lengths[b : b + 1], max_len, len(candidates))
        np.testing.assert_array_equal(np.asarray(tokens[0]), padded[best])
        np.testing.assert_allclose(float(score[0]), float(scores[best]), rtol=1e-5)
        small, small_score = S.beam_search(model, src[b : b + 1], lengths[b : b + 1], max_len, 2)
        assert float(small_score[0]) <= float(scores[best]) + 1e-5


def test_numbers_data():
    assert S.english(4721) == "four thousand, seven hundred and twenty-one"
    assert S.french(4721) == "quatre mille sept cent vingt et un"
    for n in (0, 71, 80, 81, 97, 200, 201, 99999):
        for text in (S.english(n), S.french(n)):
            assert S.detokenize(S.tokenize(text)) == text
    assert S.tokenize("quatre-vingt-dix") == ["quatre", "-", "vingt", "-", "dix"]
    vocab = S.Vocab.build(["vingt et un", "quatre-vingts"])
    assert vocab.tokens == ("<pad>", "<bos>", "<eos>", "-", "et", "quatre", "un", "vingt", "vingts")
    assert vocab.decode([*vocab.encode("quatre-vingts"), S.EOS, 6]) == "quatre-vingts"
    with pytest.raises(ValueError, match="not in the vocabulary"):
        vocab.encode("deux")
    train, test = S.split_numbers(50, 30, 10, seed=0)
    assert len(set(train) | set(test)) == 40 and not set(train) & set(test)
    arrays = S.encode_pairs(np.array([21]), S.Vocab.build(["twenty-one"]), vocab, 4, 5)
    assert arrays["tgt_in"].tolist() == [[1, 7, 4, 6, 0]] and arrays["tgt_out"].tolist() == [[7, 4, 6, 2, 0]]
    predicted = np.array([[7, 4, 6, 2, 5], [7, 4, 6, 3, 0]])
    both = {k: np.repeat(v, 2, 0) for k, v in arrays.items()}
    assert S.exact_match(predicted, both).tolist() == [True, False]


def test_fit_and_translate_round_trip(tmp_path):
    cfg = S.Seq2SeqConfig(
        model=S.ModelConfig(attention="general", embed_size=8, hidden_size=16),
        data=S.DataConfig(max_number=100, train_size=60, test_size=20, valid_size=10, batch_size=25,
                          eval_batch_size=20, beam=1),
    )  # fmt: skip
    cfg.train.steps, cfg.train.eval_every = 8, 4
    run = S.fit_seq2seq(cfg, tmp_path / "run", progress=False)
    assert 0.0 <= run.metrics["exact_match"] <= 1.0
    for name in ("config.toml", "metrics.jsonl", "report.md", "attention.png"):
        assert (tmp_path / "run" / name).is_file()
    numbers = np.array([3, 45, 99])
    translated = S.translate(tmp_path / "run", [S.english(int(n)) for n in numbers])
    src_len, tgt_len = S.load_seq2seq(tmp_path / "run")[3]["lengths"]
    arrays = S.encode_pairs(numbers, run.source, run.target, src_len, tgt_len)
    decoded = S.decode_all(run.model, arrays, tgt_len, 20)
    assert translated == [run.target.decode(row) for row in decoded.tolist()]
