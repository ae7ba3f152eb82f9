"""`recurrax.config`: TOML <-> dataclass round trips, typed overrides, and errors that name the key path."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

import pytest

from recurrax.config import ConfigError, from_dict, load_config, require, to_dict, to_toml
from recurrax.train import OptimConfig, TrainConfig


@dataclass(frozen=True)
class Inner:
    depth: int = 1
    ratio: float = 0.5


@dataclass
class Model:
    cell: Literal["lstm", "gru"] = "lstm"
    hidden: int = 8
    dropout: float = 0.0
    proj: int | None = None
    peepholes: tuple[str, ...] = ()
    sizes: tuple[int, ...] = (4, 8)
    bias: bool = True
    inner: Inner = Inner()

    def __post_init__(self):
        require(self.hidden > 0, "hidden", f"must be > 0, got {self.hidden}")


@dataclass
class Data:
    path: str | None = None
    seq_len: int = 16
    scale: float | None = 1.0


@dataclass
class Run:
    name: str = "run"
    model: Model = field(default_factory=Model)
    data: Data = field(default_factory=Data)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def test_defaults_when_nothing_is_given():
    assert load_config(Run, None) == Run()


@dataclass
class Outer:
    inner: Inner = Inner(depth=3)


@dataclass
class Task:
    """A task whose sections default to something other than their classes' own defaults."""

    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-3, schedule="warmup_cosine"))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=300, eval_every=50))


def test_a_section_given_in_part_keeps_the_tasks_own_defaults(tmp_path):
    cfg = load_config(Task, None, ["train.seed=3", "optim.lr=0.01"])
    assert (cfg.train.steps, cfg.train.eval_every, cfg.train.seed) == (300, 50, 3)
    assert (cfg.optim.lr, cfg.optim.schedule) == (0.01, "warmup_cosine")
    path = tmp_path / "task.toml"
    path.write_text("[train]\nsteps = 40\n")
    assert load_config(Task, path).train == TrainConfig(steps=40, eval_every=50)
    assert from_dict(Task, {}) == Task()
    assert from_dict(Outer, {"inner": {"ratio": 0.25}}).inner == Inner(depth=3, ratio=0.25)
    with pytest.raises(ConfigError, match="unknown key 'train.stepz'"):
        from_dict(Task, {"train": {"stepz": 1}})


def test_toml_round_trip_is_exact(tmp_path):
    cfg = Run(
        name="tiny",
        model=Model(cell="gru", hidden=3, dropout=0.1, proj=2, peepholes=("i", "f"), sizes=(), bias=False,
                    inner=Inner(depth=4, ratio=1e-8)),
        data=Data(path="/tmp/corpus.txt", seq_len=7, scale=None),
        optim=OptimConfig(lr=3.3e-4, clip_norm=None, schedule="warmup_cosine", warmup_steps=5),
        train=TrainConfig(steps=12, nonfinite="skip", tensorboard=True),
    )  # fmt: skip
    text = to_toml(cfg)
    assert 'scale = "none"' in text and 'clip_norm = "none"' in text
    path = tmp_path / "run.toml"
    path.write_text(text)
    assert load_config(Run, path) == cfg


def test_to_dict_is_json_able_and_reads_back():
    cfg = Run(data=Data(scale=None), model=Model(peepholes=("o",)))
    plain = to_dict(cfg)
    assert plain["data"]["scale"] is None and plain["model"]["peepholes"] == ["o"]
    assert from_dict(Run, json.loads(json.dumps(plain))) == cfg


def test_toml_file_then_overrides_each_type(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('name = "from-file"\n[model]\nhidden = 5\ncell = "gru"\n[optim]\nlr = 0.5\n')
    cfg = load_config(
        Run,
        path,
        [
            "model.hidden=7",  # int, overriding the file
            "optim.lr=1",  # an int for a float field
            "model.dropout=0.25",
            "model.bias=false",
            "model.cell=lstm",  # a bare word is a string
            "name=2024",  # a string field keeps the text
            'data.path="/data/my corpus.txt"',
            "model.sizes=[1, 2, 3]",
            'model.peepholes=["i", "o"]',
            "model.proj=4",
            "data.scale=none",  # Optional: none
            "optim.clip_norm=none",
            "model.inner.ratio=2.5e-3",  # nested section
        ],
    )
    assert cfg == Run(
        name="2024",
        model=Model(cell="lstm", hidden=7, dropout=0.25, proj=4, peepholes=("i", "o"), sizes=(1, 2, 3), bias=False,
                    inner=Inner(depth=1, ratio=2.5e-3)),
        data=Data(path="/data/my corpus.txt", scale=None),
        optim=OptimConfig(lr=1.0, clip_norm=None),
    )  # fmt: skip
    assert isinstance(cfg.optim.lr, float)


def test_none_in_the_toml_file(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[model]\nproj = "none"\n[data]\nscale = "none"\n')
    cfg = load_config(Run, path)
    assert cfg.model.proj is None and cfg.data.scale is None


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["optim.lrr=1"], "unknown key 'optim.lrr' (known: name, lr, weight_decay"),
        (["modle.hidden=1"], "unknown key 'modle' (known: name, model, data, optim, train)"),
        (["model.inner.deep=2"], "unknown key 'model.inner.deep' (known: depth, ratio)"),
        (["model.hidden.x=2"], "unknown key 'model.hidden.x' ('model.hidden' is not a section)"),
        (["optim.lr=abc"], "optim.lr: expected float, got 'abc'"),
        (["model.hidden=1.5"], "model.hidden: expected int, got 1.5"),
        (["model.hidden=true"], "model.hidden: expected int, got True"),
        (["model.bias=1"], "model.bias: expected bool, got 1"),
        (["model.cell=lstmm"], "model.cell: expected one of ['lstm', 'gru'], got 'lstmm'"),
        (["optim.name=lbfgs"], "optim.name: expected one of ['adam', 'adamw', 'sgd', 'rmsprop'], got 'lbfgs'"),
        (["model.sizes=[1, 2.5]"], "model.sizes[1]: expected int, got 2.5"),
        (["model.sizes=3"], "model.sizes: expected list of int, got 3"),
        (["model.proj=x"], "model.proj: expected int or none, got 'x'"),
        (["model.inner.depth=deep"], "model.inner.depth: expected int, got 'deep'"),
        (["model=3"], "'model' is a section; set one of its keys (cell, hidden"),
        (["model.hidden"], "override 'model.hidden' must look like section.key=value"),
        (["model.hidden=0"], "model.hidden: must be > 0, got 0"),
        (["optim.lr=-1"], "optim.lr: must be a positive number, got -1.0"),
        (["optim.clip_norm=0"], "optim.clip_norm: must be > 0, or none to turn clipping off, got 0.0"),
        (["train.nonfinite=ignore"], "train.nonfinite: expected one of ['stop', 'skip'], got 'ignore'"),
        (["train.log_every=0"], "train.log_every: must be >= 1, got 0"),
    ],
)
def test_override_errors_name_the_key(overrides, message):
    with pytest.raises(ConfigError) as error:
        load_config(Run, None, overrides)
    assert message in str(error.value)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[model]\nhiden = 3\n", "unknown key 'model.hiden'"),
        ("[model.inner]\ndepth = 1.5\n", "model.inner.depth: expected int, got 1.5"),
        ("model = 3\n", "model: expected a section of keys, got 3"),
        ("[data]\nseq_len = \"16\"\n", "data.seq_len: expected int, got '16'"),
        ("[optim]\nschedule = \"cosine\"\n", "optim.schedule: expected one of ['constant', 'warmup_cosine'"),
        ("[model\n", "invalid TOML"),
    ],
)
def test_file_errors_name_the_key(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(Run, path)
    assert message in str(error.value)


def test_missing_file_and_missing_required_key(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(Run, tmp_path / "nope.toml")

    @dataclass
    class Needs:
        size: int

    with pytest.raises(ConfigError, match="missing key 'size'"):
        from_dict(Needs, {})
    assert from_dict(Needs, {"size": 3}) == Needs(3)


def test_config_errors_are_value_errors():
    assert issubclass(ConfigError, ValueError)
    with pytest.raises(TypeError, match="config dataclass"):
        to_dict({"a": 1})
