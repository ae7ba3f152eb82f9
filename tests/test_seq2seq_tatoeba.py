"""Tatoeba English-French pairs and BLEU: d2l's preprocessing on a hand-written ``fra.txt`` (zipped here, found
in a data directory), the sha1 digest of `DataFile` (mismatch, download, exactly one kind), BLEU against the
formula by hand and against sacrebleu, and a tiny seq2seq run on the pairs.

Nothing is downloaded: the registered spec only ever sees files put in ``tmp_path``, and downloads come from
``file://`` URLs.
"""

from __future__ import annotations

import hashlib
import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest
import sacrebleu

import recurrax.data as rd
from recurrax.data._translation import preprocess_nmt, read_fra_eng
from recurrax.metrics import bleu
from recurrax.tasks import seq2seq as S

D2L_SHA1 = "94646ad1522d915e7b0f9296181140edcf86a4f5"
FRA_TXT = (
    "Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #1158250 (Wittydev)\n"
    "Hi.\tSalut !\n"
    "Run!\tCours\u202f!\n"
    "Who?\tQui ?\n"
    "I'm OK.\tJe vais bien.\n"
    "Wait, Tom!\tAttends,\xa0Tom !\n"
    "Really?\t\n"
    "a line without a tab\n"
)
PAIRS = [
    (["go", "."], ["va", "!"]),
    (["hi", "."], ["salut", "!"]),
    (["run", "!"], ["cours", "!"]),
    (["who", "?"], ["qui", "?"]),
    (["i'm", "ok", "."], ["je", "vais", "bien", "."]),
    (["wait", ",", "tom", "!"], ["attends", ",", "tom", "!"]),
]


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch, tmp_path):
    """No data directory from the environment; the cache is a fresh folder, never ``~/.cache``."""
    monkeypatch.delenv("RECURRAX_DATA", raising=False)
    monkeypatch.setenv("RECURRAX_CACHE", str(tmp_path / "cache"))


def write_zip(folder: Path, text: str) -> Path:
    """``folder/fra-eng.zip`` holding ``fra-eng/fra.txt`` = ``text``, as d2l's archive does."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "fra-eng.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("fra-eng/fra.txt", text.encode("utf-8"))
    return path


def sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def spec_for(path: Path, *sources: rd.UrlSource) -> rd.DatasetSpec:
    """The registered spec with the sha1 of the test's own zip."""
    registered = rd.DATASETS["tatoeba_fra_eng"]
    files = (rd.DataFile("fra-eng.zip", sources=sources, sha1=sha1(path)),)
    return rd.DatasetSpec(registered.name, registered.description, files, registered.read, kind="translation")


def test_registered_spec_is_d2ls_archive():
    spec = rd.DATASETS["tatoeba_fra_eng"]
    assert spec.kind == "translation" and spec.read is read_fra_eng
    (file,) = spec.files
    assert file.name == "fra-eng.zip" and file.digest == ("sha1", D2L_SHA1)
    assert [s.describe() for s in file.sources] == ["http://d2l-data.s3-accelerate.amazonaws.com/fra-eng.zip"]
    assert "tatoeba_fra_eng" not in [info.name for info in rd.list_datasets() if info.kind == "text"]


def test_preprocessing_is_d2ls():
    assert preprocess_nmt("Go.\tVa !") == "go .\tva !"
    assert preprocess_nmt("Wait, Tom!") == "wait , tom !"
    assert preprocess_nmt("Qui\u202f?\xa0Moi.") == "qui ? moi ."  # non-breaking spaces become spaces first
    assert preprocess_nmt("Vraiment ?!") == "vraiment ? !"
    assert rd.word_tokens("  Arrête-toi,  Tom ! ") == ["arrête-toi", ",", "tom", "!"]


def test_pairs_from_a_zip_in_the_data_dir(tmp_path):
    path = write_zip(tmp_path / "data" / "tatoeba_fra_eng", FRA_TXT)
    spec = spec_for(path)
    assert rd.load_pairs(spec, data_dir=tmp_path / "data", download=False) == PAIRS
    assert rd.load_pairs(spec, max_pairs=2, data_dir=tmp_path / "data", download=False) == PAIRS[:2]
    with pytest.raises(ValueError, match="'tinyshakespeare' is not a translation dataset"):
        rd.load_pairs("tinyshakespeare")


def test_sha1_mismatch_names_the_kind_and_both_digests(tmp_path):
    """The registered spec (d2l's sha1) meets a file that is not d2l's archive."""
    path = write_zip(tmp_path / "data" / "tatoeba_fra_eng", FRA_TXT)
    with pytest.raises(rd.ChecksumError) as error:
        rd.load_pairs("tatoeba_fra_eng", data_dir=tmp_path / "data", download=False)
    message = str(error.value)
    assert message.startswith("sha1 mismatch for ") and "\n" not in message
    assert f"expected {D2L_SHA1}, got {sha1(path)}; replace the file" in message
    assert path.is_file()  # a user's file is left alone
    cached = write_zip(tmp_path / "cache" / "tatoeba_fra_eng", FRA_TXT)
    with pytest.raises(rd.ChecksumError, match=f"sha1 mismatch .* got {sha1(cached)}; the file was deleted"):
        rd.get("tatoeba_fra_eng", download=False)
    assert not cached.exists()


def test_a_sha1_download_is_verified_and_cached(tmp_path):
    served = write_zip(tmp_path / "server", FRA_TXT)
    spec = spec_for(served, rd.UrlSource(served.as_uri()))
    assert rd.load_pairs(spec) == PAIRS
    assert (tmp_path / "cache" / "tatoeba_fra_eng" / "fra-eng.zip").read_bytes() == served.read_bytes()
    wrong = rd.DataFile("fra-eng.zip", sources=(rd.UrlSource(served.as_uri()),), sha1="0" * 40)
    bad = rd.DatasetSpec("bad", "a wrong sha1", (wrong,), read_fra_eng, kind="translation")
    with pytest.raises(rd.ChecksumError, match=f"sha1 mismatch for fra-eng.zip from .*: expected {'0' * 40}"):
        rd.get(bad)
    assert list((tmp_path / "cache" / "bad").iterdir()) == []


def test_a_data_file_has_exactly_one_digest():
    assert rd.DataFile("x", "ab").digest == ("sha256", "ab")
    with pytest.raises(ValueError, match="'x': give exactly one of sha256 and sha1"):
        rd.DataFile("x")
    with pytest.raises(ValueError, match="exactly one"):
        rd.DataFile("x", "ab", sha1="cd")


def test_bleu_by_hand_and_against_sacrebleu():
    """sacrebleu's defaults: 13a tokenization, up to 4-grams, "exp" smoothing (the k-th zero count of matches
    becomes p_n = 1 / (2^k t_n)), BP = exp(1 - r / c) when c < r."""
    assert bleu(["the cat sat on the mat", "va !"], ["the cat sat on the mat", "va !"]) == pytest.approx(100.0)
    # matched / total n-grams: 5/6, 3/5, 2/4, 1/3 ("a" and every n-gram through it miss); c == r
    assert bleu(["the cat sat on a mat"], ["the cat sat on the mat"]) == pytest.approx(100 * (1 / 12) ** 0.25)
    # no 4-gram matches: p_4 = 1 / (2 * 3); 4/6, 2/5, 1/4 otherwise
    smoothed = 100 * (4 / 6 * 2 / 5 * 1 / 4 * 1 / 6) ** 0.25
    assert bleu(["the cat sat on a mat"], ["the cat sat in the mat"]) == pytest.approx(smoothed)
    # a corpus sums the counts: the second pair adds 2/2 unigrams, 0/1 bigrams; c = 8 < r = 10
    hypotheses, references = ["the cat sat on a mat", "va !"], ["the cat sat on the mat", "va , vite !"]
    corpus = 100 * math.exp(1 - 10 / 8) * (7 / 8 * 3 / 6 * 2 / 4 * 1 / 3) ** 0.25
    assert bleu(hypotheses, references) == pytest.approx(corpus)
    assert bleu(["un deux trois"], ["quatre cinq six"]) == 0.0
    for tokenize in ("13a", "none"):
        hypotheses = ["il est là-bas.", "je suis calme !", "Tom a un chat noir .", "où est-il ?"]
        references = ["il est là-bas .", "je suis calme.", "tom a un chat noir .", "où est il ?"]
        expected = sacrebleu.corpus_bleu(hypotheses, [references], tokenize=tokenize).score
        assert bleu(hypotheses, references, tokenize=tokenize) == pytest.approx(expected, abs=1e-12)
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        bleu(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="one reference string per hypothesis"):
        bleu(["a"], [["a", "b"]])


def test_corpus_bleu_of_decoded_ids():
    pairs = PAIRS[4:]
    source, target = S.Vocab.from_tokens(s for s, _ in pairs), S.Vocab.from_tokens(t for _, t in pairs)
    arrays = S.encode_token_pairs(pairs, source, target, 4, 6)
    assert target.words(arrays["tgt_out"][1].tolist()) == ["attends", ",", "tom", "!"]
    ids = {word: i for i, word in enumerate(target.tokens)}
    predicted = np.array(
        [
            [ids["je"], ids["vais"], ids["bien"], ids["."], S.EOS, ids["tom"]],  # words after EOS are not read
            [ids["attends"], ids["tom"], ids["!"], S.EOS, S.PAD, S.PAD],
        ]
    )
    expected = bleu(["je vais bien .", "attends tom !"], ["je vais bien .", "attends , tom !"], tokenize="none")
    assert S.corpus_bleu(predicted, arrays, target) == expected


def tiny_corpus() -> str:
    """36 pairs "<subject> <verb><ending>" -> "<sujet> <verbe><fin>", one a line, tab-separated."""
    subjects = {"I": "Je", "Tom": "Tom", "We": "Nous", "They": "Ils", "You": "Vous", "She": "Elle"}
    verbs = {
        "I": ("run", "cours"), "Tom": ("runs", "court"), "We": ("run", "courons"),
        "They": ("run", "courent"), "You": ("run", "courez"), "She": ("runs", "court"),
    }  # fmt: skip
    endings = (("!", "!"), (".", "."), ("?", "?"), (" now.", " maintenant."), (" again!", " encore !"), (",", ","))
    lines = []
    for english, french in subjects.items():
        verb, verbe = verbs[english]
        lines += [f"{english} {verb}{en}\t{french} {verbe}{fr}" for en, fr in endings]
    return "\n".join(lines) + "\n"


def test_load_splits_are_disjoint_and_numbers_unchanged(tmp_path, monkeypatch):
    path = write_zip(tmp_path / "data" / "tatoeba_fra_eng", tiny_corpus())
    monkeypatch.setitem(rd.DATASETS, "tatoeba_fra_eng", spec_for(path))
    cfg = S.DataConfig(dataset="tatoeba_fra_eng", train_size=24, test_size=8, valid_size=4)
    splits = S.load_splits(cfg, seed=3, data_dir=tmp_path / "data")
    assert [len(splits[name]) for name in ("train", "valid", "test")] == [20, 4, 8]
    first = rd.parse_pairs(tiny_corpus(), 32)
    drawn = [tuple(map(tuple, pair)) for split in splits.values() for pair in split]
    assert sorted(drawn) == sorted(tuple(map(tuple, pair)) for pair in first)
    with pytest.raises(ValueError, match="has 36 pairs; train_size \\+ test_size = 40"):
        too_many = S.DataConfig(dataset="tatoeba_fra_eng", train_size=30, test_size=10, valid_size=5)
        S.load_splits(too_many, 0, tmp_path / "data")
    numbers = S.load_splits(S.DataConfig(max_number=50, train_size=30, test_size=10, valid_size=5), seed=1)
    train, test = S.split_numbers(50, 30, 10, seed=1)
    assert numbers["valid"] == [S.number_pair(int(n)) for n in train[:5]]
    assert numbers["test"] == [S.number_pair(int(n)) for n in test]
    with pytest.raises(ValueError, match="dataset: must be one of numbers, tatoeba_fra_eng, got 'ptb'"):
        S.DataConfig(dataset="ptb")


def test_fit_on_tatoeba_pairs_and_translate(tmp_path, monkeypatch):
    """Two steps without attention (the cheapest compile, ~15 s): BLEU in the validation rows and the test
    metrics, and `translate` equal to decoding the run's model directly."""
    path = write_zip(tmp_path / "data" / "tatoeba_fra_eng", tiny_corpus())
    monkeypatch.setitem(rd.DATASETS, "tatoeba_fra_eng", spec_for(path))
    cfg = S.Seq2SeqConfig(
        model=S.ModelConfig(attention="none", embed_size=8, hidden_size=16),
        data=S.DataConfig(dataset="tatoeba_fra_eng", train_size=24, test_size=6, valid_size=4, batch_size=10,
                          eval_batch_size=6, beam=1),
    )  # fmt: skip
    cfg.train.steps, cfg.train.eval_every = 2, 2
    run = S.fit_seq2seq(cfg, tmp_path / "run", data_dir=tmp_path / "data", progress=False)
    assert 0.0 <= run.metrics["bleu"] <= 100.0 and run.metrics["beam_bleu"] == run.metrics["bleu"]  # beam 1
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    valid = [row for row in rows if row["split"] == "valid"]
    assert {row["step"] for row in valid} == {2} and all(0.0 <= row["bleu"] <= 100.0 for row in valid)
    assert "| bleu |" in (tmp_path / "run" / "report.md").read_text()
    sentences = ["Tom runs now.", "We run!"]
    translated = S.translate(tmp_path / "run", sentences)
    src_len, tgt_len = S.load_seq2seq(tmp_path / "run")[3]["lengths"]
    pairs = [(rd.word_tokens(s), ["court"]) for s in sentences]
    decoded = S.decode_all(run.model, S.encode_token_pairs(pairs, run.source, run.target, src_len, tgt_len), tgt_len, 6)
    assert translated == [" ".join(run.target.words(row)) for row in decoded.tolist()]
    with pytest.raises(ValueError, match="not in the vocabulary: \\['dogs'\\]"):
        S.translate(tmp_path / "run", ["Dogs run."])
