"""`recurrax study odyssey`: piano rolls, the frame NLL, exact padding of grouped trials, Welch's test,
fANOVA, and the study end to end on a few shipped chorales.

Oracles: a score written by hand with its roll worked out by hand; the frame NLL in NumPy float64; a model
at its own size against the padded, masked one (loss and gradients); scipy's Welch test; a synthetic
objective driven by the learning rate alone; the Optuna storage read back.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("music21")
pytest.importorskip("optuna")
pytest.importorskip("sklearn")

from recurrax.studies._odyssey import Space, budget_config, run_odyssey
from recurrax.studies._odyssey_music import CACHE_NAME, frame_nll, load_chorales, piano_roll
from recurrax.studies._odyssey_report import analyse, importances, plot, results_markdown, welch
from recurrax.studies._odyssey_train import OdysseyModel, Trial, init_group

FIXTURE = Path(__file__).parent / "fixtures" / "odyssey_chorales.npz"


def _rolls() -> dict[str, np.ndarray]:
    with np.load(FIXTURE) as data:
        return {name: data[name] for name in data.files}


def test_piano_roll_of_a_hand_made_score():
    from music21 import chord, note, stream, tie

    soprano = stream.Part()
    d1, d2 = note.Note("D5", quarterLength=0.5), note.Note("D5", quarterLength=0.5)
    d1.tie, d2.tie = tie.Tie("start"), tie.Tie("stop")
    for element in [note.Note("C5", quarterLength=1.0), d1, d2, note.Rest(quarterLength=0.5),
                    note.Note("E5", quarterLength=0.25), note.Note("F5", quarterLength=0.25),
                    note.Note("G5", quarterLength=1.0)]:  # fmt: skip
        soprano.append(element)
    bass = stream.Part()
    bass.append(chord.Chord(["C3", "G3"], quarterLength=2.0))
    bass.append(note.Note("B1", quarterLength=2.0))  # MIDI 35: below the range, dropped
    score = stream.Score([soprano, bass])
    roll = piano_roll(score, low=36, high=84)
    # eighth-note frames sampled at their start: F5 (2.75-3.0) starts between frames and is dropped
    expected = {0: [72, 48, 55], 1: [72, 48, 55], 2: [74, 48, 55], 3: [74, 48, 55], 4: [], 5: [76], 6: [79], 7: [79]}
    assert roll.shape == (8, 49)
    for frame, pitches in expected.items():
        assert sorted(np.flatnonzero(roll[frame]) + 36) == sorted(pitches), frame


def test_frame_nll_matches_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (2, 5, 7))
    frames = (rng.random((2, 5, 7)) < 0.3).astype(np.float64)
    p = 1 / (1 + np.exp(-logits))
    reference = -np.sum(frames * np.log(p) + (1 - frames) * np.log(1 - p), axis=-1)
    got = frame_nll(jnp.asarray(logits, jnp.float32), jnp.asarray(frames, jnp.float32))
    np.testing.assert_allclose(np.asarray(got), reference, rtol=1e-5, atol=1e-5)


def test_load_chorales_reads_the_cache(tmp_path):
    rolls = _rolls()
    (tmp_path / CACHE_NAME).parent.mkdir(parents=True)
    np.savez_compressed(tmp_path / CACHE_NAME, **rolls)
    loaded = load_chorales(tmp_path)
    assert sorted(loaded) == sorted(rolls) and all(np.array_equal(loaded[n], rolls[n]) for n in rolls)


def test_padded_masked_trial_has_the_loss_and_gradients_of_the_model_alone():
    from recurrax.studies._odyssey_tasks import charlm_task

    task = charlm_task("abcdefgh" * 400, eval_chars=64, eval_length=16)
    trials = [Trial(3, 1e-2, 0.9, 0.0, 7), Trial(5, 1e-2, 0.9, 0.0, 8)]
    params, _, masks, static = init_group(task, "fgr", trials)  # FGR: the padded gates meet masked weights
    xs = jnp.asarray(task.valid.xs[:2])
    alone = OdysseyModel("fgr", task.input_size, 3, task.output_size, key=jax.random.key(7))

    def loss(model):
        return jnp.sum(jnp.sin(model(xs)))

    def padded_loss(p):
        first = jax.tree.map(lambda a: a[0], p)
        mask = jax.tree.map(lambda a: a[0], masks)
        return loss(eqx.combine(jax.tree.map(lambda a, b: a * b, first, mask), static))

    small_params, small_static = eqx.partition(alone, eqx.is_inexact_array)
    value, grads = jax.jit(jax.value_and_grad(lambda p: loss(eqx.combine(p, small_static))))(small_params)
    padded_value, padded_grads = jax.jit(jax.value_and_grad(padded_loss))(params)
    np.testing.assert_allclose(padded_value, value, rtol=1e-5)
    for g, pg, m in zip(jax.tree.leaves(grads), jax.tree.leaves(padded_grads), jax.tree.leaves(masks)):
        pg, m = np.asarray(pg[0]), np.asarray(m[0]).astype(bool)
        np.testing.assert_allclose(pg[m].reshape(np.shape(g)), np.asarray(g), rtol=1e-4, atol=1e-6)
        assert not np.any(pg[~m]), "a padded entry would be updated"


def test_welch_matches_scipy():
    from scipy.stats import ttest_ind

    a, b = [1.0, 1.3, 0.8, 1.1], [1.6, 1.9, 1.4]
    t, p = welch(a, b)
    reference = ttest_ind(a, b, equal_var=False)
    assert t == pytest.approx(reference.statistic) and p == pytest.approx(reference.pvalue)


def test_fanova_ranks_the_parameter_that_drives_the_objective_first():
    rng = np.random.default_rng(0)
    trials = []
    for _ in range(40):
        params = {"lr": float(10 ** rng.uniform(-4, -1)), "hidden": int(rng.integers(20, 201)),
                  "one_minus_beta1": float(10 ** rng.uniform(-2, 0)), "noise": float(rng.uniform())}  # fmt: skip
        trials.append({"params": params, "value": (math.log10(params["lr"]) + 2.5) ** 2 + 0.01 * rng.normal()})
    imp = importances(trials, Space())
    assert max(imp, key=imp.get) == "lr" and imp["lr"] > 0.8


def _fake_train(task, variant, trials, schedule, test=False):
    """A stand-in for training: valid = (log10 lr + 2.5)^2 (+ 1 for NFG), test = valid + seed / 1000."""
    rows = []
    for t in trials:
        valid = (math.log10(t.lr) + 2.5) ** 2 + (1.0 if variant == "nfg" else 0.0)
        rows.append({"valid": valid, "best_round": 0} | ({"test": valid + (t.seed % 7) / 1000} if test else {}))
    return rows


def test_study_protocol_tables_and_findings_on_a_known_objective(tmp_path, monkeypatch):
    import recurrax.studies._odyssey as odyssey

    monkeypatch.setattr(odyssey, "train_trials", _fake_train)
    cfg = budget_config("tiny", tasks=("music",), variants=("vanilla", "nfg", "cifg"), trials=8, seeds=3)
    storage = f"sqlite:///{tmp_path}/odyssey.db"
    results = analyse(run_odyssey(cfg, storage, rolls=_rolls(), log=lambda line: None))
    json.dumps(results)  # the CLI writes it as JSON
    music = results["tasks"]["music"]["variants"]
    assert results["configs_on_test"] == 3
    for r in music.values():  # the re-trained config is the variant's best on valid
        best = min(r["trials"], key=lambda t: t["value"])
        assert r["final"]["params"] == best["params"] and len(r["final"]["test"]) == 3
    a = results["analysis"]["music"]
    assert max(a["importances"], key=a["importances"].get) == "lr"
    verdicts = {f["claim"].split(" (")[0]: f["holds"] for f in a["findings"]}
    assert verdicts["removing the forget gate hurts"] is True  # NFG is 1 worse, test spread 0.006
    assert verdicts["coupling input and forget gate costs nothing"] is True
    assert verdicts["removing the output activation hurts"] is None  # NOAF not run
    table = results_markdown(results)
    assert "| V | 8 (0) |" in table and "| NFG | 8 (0) |" in table and "| CIFG | 8 (0) |" in table
    assert {p.name for p in plot(results, tmp_path)} == {"boxplots.png", "importances.png", "learning_rate.png"}
    again = run_odyssey(budget_config("tiny", tasks=("music",), variants=("vanilla",), trials=0), storage,
                        final=False, rolls=_rolls(), log=lambda line: None)  # fmt: skip
    assert [t["value"] for t in again["tasks"]["music"]["variants"]["vanilla"]["trials"]] == [
        t["value"] for t in music["vanilla"]["trials"]
    ]  # the storage keeps the study for the next machine or call


@pytest.mark.slow
def test_study_trains_for_real_on_the_fixture(tmp_path):
    cfg = budget_config("tiny", tasks=("music",), variants=("vanilla",), trials=4)
    results = analyse(run_odyssey(cfg, f"sqlite:///{tmp_path}/odyssey.db", rolls=_rolls(), log=lambda line: None))
    row = results["analysis"]["music"]["rows"]["vanilla"]
    assert row["trials"] == 4 and len(row["test"]) == 2
    assert all(20 < v < 40 for v in row["test"])  # near 49 ln 2 = 34 nats per frame: barely trained
