"""Hyperparameter search (`recurrax.lifecycle.tune`, ``recurrax tune``): the search-space parser against the
optuna distributions it must produce, the loop's evaluation hook, and a tiny language-model study end to end —
objective = best validation loss of each trial's own metrics.jsonl, best.toml = the best trial's config,
the median rule prunes a trial that is worse than the completed one, a second call continues the study."""

from __future__ import annotations

import math
from pathlib import Path

import jax.numpy as jnp
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from recurrax.cli import main
from recurrax.config import ConfigError, load_config, to_toml
from recurrax.lifecycle import apply_params, check_space, load_tune_config, parse_space, tune
from recurrax.tasks import TaskSpec
from recurrax.tasks.lm import LMConfig
from recurrax.train import NonFiniteError, OptimConfig, TrainConfig, fit, read_metrics
from recurrax.train._loop import _EVAL_HOOK, evaluation_hook

TINY = [  # a tanh RNN cell: the cheapest to compile, once per trial (the learning rate is part of the step)
    "model.cell=rnn", "model.embed_size=8", "model.hidden_size=16", "model.num_layers=1", "data.seq_len=16",
    "data.batch_size=4", "data.eval_batch_size=2", "train.steps=12", "train.eval_every=6",
    "train.checkpoint_every=0", "train.log_every=3",
]  # fmt: skip
SPACE = ["optim.lr=float:1e-5:3e-2:log", "optim.clip_norm=cat:none,1.0"]
GOOD, BAD = {"optim.lr": 1e-2, "optim.clip_norm": 1.0}, {"optim.lr": 1e-5, "optim.clip_norm": None}


def test_specs_parse_to_the_expected_distributions():
    items = [
        "model.hidden_size=int:32:256:log", "model.num_layers=int:1:3", "model.embed_size=int:8:64:step=8",
        "optim.lr=float:1e-4:1e-2:log", "model.dropout=float:0:0.5", "optim.momentum=float:0:0.9:step=0.1",
        "model.cell=cat:lstm,gru,peephole", "data.level=cat:char,word", "optim.clip_norm=cat:none,5,0.5",
        "model.tie_weights=cat:true,false", "train.steps=cat:10,20",
    ]  # fmt: skip
    space = parse_space(items, LMConfig)
    assert [p.key for p in space] == [item.partition("=")[0] for item in items]
    assert [p.distribution() for p in space] == [
        IntDistribution(32, 256, log=True),
        IntDistribution(1, 3),
        IntDistribution(8, 64, step=8),
        FloatDistribution(1e-4, 1e-2, log=True),
        FloatDistribution(0.0, 0.5),
        FloatDistribution(0.0, 0.9, step=0.1),
        CategoricalDistribution(("lstm", "gru", "peephole")),
        CategoricalDistribution(("char", "word")),
        CategoricalDistribution((None, 5.0, 0.5)),  # int 5 converted for the float field
        CategoricalDistribution((True, False)),
        CategoricalDistribution((10, 20)),
    ]
    assert type(space[8].choices[1]) is float and type(space[10].choices[0]) is int


@pytest.mark.parametrize(
    "item, message",
    [
        ("model.hiden_size=int:1:2", "unknown key 'model.hiden_size'"),
        ("modl.cell=cat:lstm", "unknown key 'modl'"),
        ("model=int:1:2", "'model' is a section"),
        ("model.hidden_size", "must look like section.key=spec"),
        ("model.hidden_size=", "must look like section.key=spec"),
        ("model.hidden_size=uniform:1:2", "unknown kind 'uniform'"),
        ("model.hidden_size=int:32", "expected int:LOW:HIGH"),
        ("model.hidden_size=int:32:16", "LOW must be below HIGH"),
        ("model.hidden_size=int:32:64:log:step=2", "expected int:LOW:HIGH"),
        ("model.hidden_size=int:32:6.5e1", "'6.5e1' is not a valid int"),
        ("model.hidden_size=float:32:64", "does not take float values"),
        ("model.cell=int:1:2", "does not take int values"),
        ("optim.lr=float:0:1e-2:log", "a log range needs LOW > 0"),
        ("optim.lr=float:1e-4:inf", "not a finite number"),
        ("optim.lr=float:1e-4:1e-2:cubic", "unknown option 'cubic'"),
        ("optim.lr=float:1e-4:1e-2:step=0", "step must be > 0"),
        ("model.embed_size=int:8:60:step=8", "HIGH - LOW must be a multiple of step"),
        ("model.dropout=float:0:0.5:step=0.2", "HIGH - LOW must be a multiple of step"),
        ("data.level=cat:char,byte", "data.level: expected one of ['char', 'word'], got 'byte'"),
        ("model.num_layers=cat:1,two", "model.num_layers: expected int, got 'two'"),
        ("model.cell=cat:lstm,,gru", "no empty choice"),
        ("model.cell=cat:lstm,lstm", "a choice is repeated"),
    ],
)
def test_bad_specs_are_one_clear_error(item, message):
    with pytest.raises(ConfigError) as error:
        parse_space([item], LMConfig)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_key_twice_and_refused_bounds_are_errors():
    with pytest.raises(ConfigError, match="'optim.lr' is given more than once"):
        parse_space(["optim.lr=float:1e-4:1e-2", "optim.lr=float:1e-3:1e-2"], LMConfig)
    with pytest.raises(ConfigError, match=r"model.dropout: the value 1.0 is refused: .*must be in \[0, 1\)"):
        check_space(parse_space(["model.dropout=float:0:1"], LMConfig), LMConfig())
    check_space(parse_space(["model.dropout=float:0:0.9"], LMConfig), LMConfig())


def test_apply_params_sets_dotted_keys_and_validates():
    base = load_config(LMConfig, None, TINY)
    cfg = apply_params(base, {"optim.lr": 0.05, "model.cell": "gru", "optim.clip_norm": None})
    assert (cfg.optim.lr, cfg.model.cell, cfg.optim.clip_norm) == (0.05, "gru", None)
    assert cfg.model.hidden_size == 16 and (base.model.cell, base.optim.clip_norm) == ("rnn", 5.0)  # untouched
    with pytest.raises(ConfigError, match="model.hidden_size: must be >= 1"):
        apply_params(base, {"model.hidden_size": 0})


def test_tune_section_of_a_config_file(tmp_path):
    path = tmp_path / "base.toml"
    path.write_text(
        '[model]\nhidden_size = 24\n[tune]\nmetric = "bpc"\n[tune.params]\n"optim.lr" = "float:1e-4:1e-2:log"\n'
    )
    cfg, section = load_tune_config(LMConfig, path, ["train.steps=7"])
    assert (cfg.model.hidden_size, cfg.train.steps) == (24, 7)
    assert section == {"metric": "bpc", "params": {"optim.lr": "float:1e-4:1e-2:log"}}
    path.write_text("[tune]\ntrials = 3\n")
    with pytest.raises(ConfigError, match="unknown key 'tune.trials'"):
        load_tune_config(LMConfig, path)


def _fit_scalar(run_dir, **kwargs):
    """`fit` of one number ``w`` to 1 (loss ``(w - 1)^2``, validation loss ``|w - 1|``): 30 steps, evaluated
    every 10."""
    return fit(
        jnp.zeros(()), lambda w, batch, carry, key: ((w - 1.0) ** 2, (carry, {})), lambda i: jnp.zeros(()),
        optim=OptimConfig(lr=0.05), train=TrainConfig(steps=30, eval_every=10, log_every=10),
        run_dir=run_dir, evaluate=lambda w: {"loss": abs(float(w) - 1.0)}, progress=False, **kwargs,
    )  # fmt: skip


def test_fit_stops_where_the_evaluation_hook_says(tmp_path):
    """``on_eval`` sees every evaluation's scores (as metrics.jsonl logs them) and stops the run at step 20;
    `evaluation_hook` reaches a `fit` that was not given ``on_eval``; without a hook the run is unchanged."""
    seen = []

    def hook(step, scores):
        seen.append((step, scores["loss"]))
        return step >= 20

    result = _fit_scalar(tmp_path / "a", on_eval=hook)
    valid = [(row["step"], row["loss"]) for row in read_metrics(tmp_path / "a" / "metrics.jsonl")
             if row["split"] == "valid"]  # fmt: skip
    assert seen == valid and [step for step, _ in seen] == [10, 20]
    assert result.step == 20 and result.stopped_early and float(result.model) == 1.0 - valid[-1][1]
    with evaluation_hook(lambda step, scores: True):
        assert _fit_scalar(tmp_path / "b").step == 10
    assert _EVAL_HOOK.get() is None  # the hook is gone after the block
    plain = _fit_scalar(tmp_path / "c")
    assert plain.step == 30 and not plain.stopped_early


CURVES = {0.1: [1.0, 0.5], 0.2: [2.0, 0.1], 0.3: [0.9, 0.6], 0.4: "diverges", 0.5: [0.8, 0.7]}


def _curve_run(cfg, run_dir, data_dir, progress):
    """A stand-in for a task's fit: validation losses ``CURVES[lr]`` at steps 1, 2, told to the active
    evaluation hook as `fit` does (stopping when it says so); lr 0.4 diverges."""
    curve = CURVES[cfg.optim.lr]
    if curve == "diverges":
        raise NonFiniteError(1, float("nan"), None, None)
    hook, rows = _EVAL_HOOK.get(), []
    for step, loss in enumerate(curve, start=1):
        rows.append({"step": step, "split": "valid", "loss": loss})
        if hook(step, {"loss": loss}):
            break
    return rows


def test_pruning_and_failures_on_known_curves(tmp_path):
    """Median rule after 1 completed trial (lr 0.1: 1.0 at step 1): lr 0.2 (2.0 > 1.0) is pruned at step 1
    though it would end best; lr 0.3 (0.9, then 0.6 > 0.5 at the last step) completes with 0.6; a diverging
    trial fails and the study goes on; lr 0.5 completes. Objective = the best value of each curve."""
    task = TaskSpec("curves", LMConfig, fit=_curve_run)
    base = load_config(LMConfig, None, ["train.steps=2"])
    space = ["optim.lr=cat:0.1,0.2,0.3,0.4,0.5"]
    pruner = optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0)
    storage = f"sqlite:///{tmp_path}/study.db"
    queue = optuna.create_study(storage=storage, study_name="curves")
    for lr in CURVES:
        queue.enqueue_trial({"optim.lr": lr})
    result = tune(task, base, space, study_dir=tmp_path, trials=5, pruner=pruner)
    trials = result.study.trials
    assert [t.state.name for t in trials] == ["COMPLETE", "PRUNED", "COMPLETE", "FAIL", "COMPLETE"]
    assert [t.value for t in trials] == [0.5, 2.0, 0.6, None, 0.7]  # pruned: optuna keeps its last report
    assert trials[1].intermediate_values == {1: 2.0} and trials[2].intermediate_values == {1: 0.9, 2: 0.6}
    assert result.study.best_trial.number == 0 and result.best_config.optim.lr == 0.1
    assert list(result.table["value"][:3]) == [0.5, 2.0, 0.6]  # a pruned trial shows its last reported value
    with pytest.raises(ValueError, match="reports no validation metric 'accuracy' .*it reports loss"):
        tune(task, base, ["optim.lr=cat:0.1,0.3"], study_dir=tmp_path / "acc", trials=1, metric="accuracy")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Three trials of a tiny char model: lr 1e-2, then lr 1e-5 (which the median rule must prune at its
    first evaluation), then lr 2e-2 with the clip norm sampled by TPE."""
    folder = tmp_path_factory.mktemp("tune")
    corpus = folder / "corpus.txt"
    corpus.write_text("to be, or not to be, that is the question:\n" * 50)
    base = load_config(LMConfig, None, [*TINY, f"data.path={corpus}"])
    study_dir = folder / "study"
    study_dir.mkdir()
    seeded = optuna.create_study(storage=f"sqlite:///{study_dir}/study.db", study_name="lm")
    seeded.enqueue_trial(GOOD)
    seeded.enqueue_trial(BAD)
    seeded.enqueue_trial({"optim.lr": 2e-2})
    pruner = optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0)
    result = tune("lm", base, SPACE, study_dir=study_dir, trials=3, pruner=pruner, seed=0)
    return base, corpus, result


def test_each_trial_is_a_run_and_its_value_is_its_best_validation_loss(study):
    base, _, result = study
    trials = result.study.trials
    assert [t.number for t in trials] == [0, 1, 2]
    for trial in trials:
        run_dir = Path(trial.user_attrs["run_dir"])
        assert run_dir == result.study_dir / f"trial_{trial.number:04d}"
        assert (run_dir / "config.toml").read_text() == to_toml(apply_params(base, trial.params))
        valid = [row["loss"] for row in read_metrics(run_dir / "metrics.jsonl") if row["split"] == "valid"]
        assert trial.intermediate_values == dict(zip([6, 12][: len(valid)], valid))
        if trial.state == optuna.trial.TrialState.COMPLETE:
            assert trial.value == min(valid)
    table = result.table.set_index("number")
    assert list(table["state"]) == [t.state.name for t in trials]
    assert table.loc[0, "value"] == trials[0].value and table.loc[0, "optim.lr"] == GOOD["optim.lr"]


def test_the_median_rule_prunes_the_worse_trial_at_its_first_evaluation(study):
    _, _, result = study
    good, bad = result.study.trials[:2]
    assert good.state == optuna.trial.TrialState.COMPLETE
    assert bad.state == optuna.trial.TrialState.PRUNED
    assert bad.intermediate_values[6] > good.intermediate_values[6]  # the rule's reason, with 1 completed trial
    rows = read_metrics(Path(bad.user_attrs["run_dir"]) / "metrics.jsonl")
    assert max(row["step"] for row in rows) == 6 and (Path(bad.user_attrs["run_dir"]) / "report.md").is_file()


def test_best_toml_is_the_best_trials_config_and_plots_are_written(study):
    base, _, result = study
    complete = [t for t in result.study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = min(complete, key=lambda t: t.value)
    assert result.study.best_trial.number == best.number
    best_toml = (result.study_dir / "best.toml").read_text()
    assert best_toml == (Path(best.user_attrs["run_dir"]) / "config.toml").read_text()
    assert load_config(LMConfig, result.study_dir / "best.toml") == apply_params(base, best.params)
    assert result.best_config == apply_params(base, best.params)
    names = {p.name for p in result.files}
    assert {"trials.csv", "best.toml", "history.png"} <= names
    assert [t.state.name for t in result.study.trials] == ["COMPLETE", "PRUNED", "COMPLETE"]
    assert "importances.png" in names and not result.notes
    assert all(p.stat().st_size > 0 for p in result.files)


def test_the_cli_continues_the_study_from_its_sqlite_file(study, capsys):
    """A fourth trial (the bad values again, enqueued: pruned by the CLI's median rule after 1 completed
    trial) numbered 3 in trial_0003; the printed best trial is the study's."""
    _, corpus, result = study
    storage = f"sqlite:///{result.study_dir}/study.db"
    optuna.load_study(study_name="lm", storage=storage).enqueue_trial(BAD)
    sets = [arg for item in [*TINY, f"data.path={corpus}"] for arg in ("--set", item)]
    params = [arg for item in SPACE for arg in ("--param", item)]
    argv = ["tune", "lm", *sets, *params, "--trials", "1", "--out", str(result.study_dir), "--prune-after", "1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    resumed = optuna.load_study(study_name="lm", storage=storage)
    assert [t.number for t in resumed.trials] == [0, 1, 2, 3]
    assert resumed.trials[3].state == optuna.trial.TrialState.PRUNED and resumed.trials[3].params == BAD
    assert (result.study_dir / "trial_0003" / "config.toml").is_file()
    assert "trial 3 pruned: loss " in out and "best.toml" in out
    best_line = next(line for line in out.splitlines() if line.startswith("best trial "))
    number, value = best_line.removeprefix("best trial ").split(": value ")
    assert int(number) == resumed.best_trial.number
    assert math.isclose(float(value.split(",")[0]), resumed.best_value, rel_tol=1e-5)


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["tune", "lm", "--param", "model.hiden=int:1:2"], 1, "unknown key 'model.hiden'"),
        (["tune", "lm", "--param", "model.hidden_size=int:8"], 1, "expected int:LOW:HIGH"),
        (["tune", "lm"], 1, "the search space is empty"),
        (["tune", "speech", "--param", "model.cell=cat:lstm"], 1, "unknown task 'speech'"),
        (["tune", "lm", "--param", "optim.lr=float:1e-3:1e-2", "--direction", "up"], 1, "direction must be"),
        (["tune", "forecast", "--param", "optim.lr=float:1e-3:1e-2"], 1, "set data.validate = true"),
        (["tune", "lm", "--param", "optim.lr=float:1e-3:1e-2", "--trials", "0"], 2, "--trials"),
    ],
)
def test_cli_errors_are_one_line(argv, code, message, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path / "study")]) == code
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_a_study_of_another_metric_is_refused(study):
    base, _, result = study
    with pytest.raises(ValueError, match="tunes .*'metric': 'loss'.* not .*'metric': 'bpc'"):
        tune("lm", base, SPACE, study_dir=result.study_dir, trials=1, metric="bpc")
