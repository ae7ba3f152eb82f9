"""The exported functions of each task, built from a checkpoint with the task's own loader.

Each ``<task>(checkpoint)`` returns the keyword arguments of `write_artifact`: the `Function` dict, the
weights, the resolved config, the task's data description (``meta["data"]``) and the source. The functions
are the in-memory model's evaluation-mode forward pass plus the task's own pre- and post-processing, written
in JAX so that they run inside the exported module:

- ``lm`` ``step``: ``logits, state' = model(tokens[:, None], state)``, ``logits[:, 0]`` (one token per stream).
- ``classify`` ``predict_proba``: ``x' = nan_to_num((x - mean) / std)`` zeroed past ``lengths``, then
  ``softmax(model(x', lengths))`` (as `predict_classifier`).
- ``forecast`` ``forecast``: the last ``min(n, L)`` of each history's ``n = lengths`` values, left-aligned in
  ``[B, L]`` (as `last_inputs`), scaled (window statistics, or the series' ``loc``/``scale`` selected by
  ``series``), the model's raw head outputs mapped to the point forecast and, for a probabilistic head, the
  quantiles at ``levels`` (as `head_quantiles`), both back in data units. A model with ``K`` covariates
  also takes ``past`` ``[B, T, K]`` and ``future`` ``[B, H, K]`` in data units: the last ``min(n, L)`` rows
  of ``past`` are taken as those of ``history``, both mapped by the run's covariate scaler
  ``(x - loc) / scale`` (``past`` zero after each count, as `scaled_windows`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from ..tasks.classify import load_classifier
from ..tasks.forecast import CovariateScaler, ForecastEnsemble, load_forecast
from ..tasks.forecast._heads import MIN_SCALE, point_forecast
from ..tasks.lm import load_lm
from ..train import read_meta
from ._export import Function, Input, model_weights


def _kwargs(
    task: str, functions: dict, weights: dict, meta: dict[str, Any], data: dict[str, Any], checkpoint: Path
) -> dict[str, Any]:
    """`write_artifact`'s keyword arguments; ``source`` names the checkpoint and its data fingerprint."""
    source = {"checkpoint": str(checkpoint.resolve()), "data_fingerprint": meta.get("data_fingerprint")}
    return {"task": task, "functions": functions, "weights": weights, "config": meta["config"], "data": data,
            "source": source}  # fmt: skip


def lm(checkpoint: Path) -> dict[str, Any]:
    """``step``: ``tokens`` ``[B]`` int32 in ``[0, V)`` and ``state_<i>`` -> ``logits`` ``[B, V]`` float32 and
    the new ``state_<i>``. The state is the stack's carry flattened (an LSTM: ``state_0 = h``, ``state_1 = c``,
    each ``[L, B, H]``; batch axis 1)."""
    loaded = load_lm(checkpoint)
    model, vocab = loaded.model, len(loaded.tokenizer)
    weights, rebuild = model_weights(model)
    one, two = (jax.tree.leaves(model.init_state(b)) for b in (1, 2))
    state_def = jax.tree.structure(model.init_state(1))
    names = tuple(f"state_{i}" for i in range(len(one)))
    state_inputs = []
    for name, a, b in zip(names, one, two):
        axes = [i for i, (m, n) in enumerate(zip(a.shape, b.shape)) if m != n]
        if axes != [1]:
            raise ValueError(f"the language model's state leaf {name} {a.shape} has no batch axis 1")
        shape = tuple("B" if i == 1 else d for i, d in enumerate(a.shape))
        state_inputs.append(Input(name, shape, str(a.dtype)))

    def step(w: dict, inputs: dict) -> dict:
        state = jax.tree.unflatten(state_def, [inputs[n] for n in names])
        logits, state = rebuild(w)(inputs["tokens"][:, None], state)
        return {"logits": logits[:, 0], **dict(zip(names, jax.tree.leaves(state)))}

    tokens = Input("tokens", ("B",), "int32", bounds=(0, vocab - 1))
    function = Function(step, (tokens, *state_inputs), state=names, state_batch_axis=1)
    data = {"tokenizer": loaded.tokenizer.to_json(), "vocab_size": vocab}
    return _kwargs("lm", {"step": function}, weights, loaded.meta, data, checkpoint)


def classify(checkpoint: Path) -> dict[str, Any]:
    """``predict_proba``: raw ``x`` ``[B, T, D]`` float32 (NaN = missing) and ``lengths`` ``[B]`` int32 in
    ``[1, T]`` -> ``probs`` ``[B, C]`` float32 (rows sum to 1, classes in ``meta["data"]["classes"]``). A run
    trained with ``data.stride = s`` reads every ``s``-th step from step 0 (``ceil(length / s)`` steps), as
    `predict_classifier` does."""
    loaded = load_classifier(checkpoint)
    weights, rebuild = model_weights(loaded.model)
    weights["scaler.mean"], weights["scaler.std"] = loaded.mean, loaded.std
    stride = loaded.config.data.stride

    def predict_proba(w: dict, inputs: dict) -> dict:
        x, lengths = inputs["x"][:, ::stride], (inputs["lengths"] + stride - 1) // stride
        mean, std = w["scaler.mean"].reshape(1, 1, -1), w["scaler.std"].reshape(1, 1, -1)
        scaled = jnp.nan_to_num((x - mean) / std, nan=0.0)
        valid = jnp.arange(x.shape[1]).reshape(1, -1, 1) < lengths.reshape(-1, 1, 1)
        logits = rebuild(w)(jnp.where(valid, scaled, 0.0), lengths)
        return {"probs": jax.nn.softmax(logits, axis=-1)}

    size = len(loaded.mean)
    inputs = (Input("x", ("B", "T", size), "float32", allow_nan=True), Input("lengths", ("B",), "int32", (1, "T")))
    data = {
        "classes": list(loaded.classes),
        "input_size": size,
        "scaler": {"mean": loaded.mean.tolist(), "std": loaded.std.tolist()},
        "stride": stride,
    }
    return _kwargs(
        "classify", {"predict_proba": Function(predict_proba, inputs)}, weights, loaded.meta, data, checkpoint
    )


def forecast(checkpoint: Path, levels: tuple[float, ...] | None = None) -> dict[str, Any]:
    """``forecast``: raw ``history`` ``[B, T]`` float32 (each row's first ``lengths[b]`` values, oldest
    first), ``lengths`` ``[B]`` in ``[1, T]`` (and ``series`` ``[B]`` int32 for series scaling: the series'
    index in the training set's order, that of ``meta["data"]["scaler"]["loc"]``; and, for a model with
    ``K`` covariates, ``past`` ``[B, T, K]`` float32, those of the history steps aligned with ``history``,
    and ``future`` ``[B, H, K]`` float32, those of the forecast steps, both in data units, channels in the
    order of ``meta["data"]["covariates"]``) -> ``mean`` ``[B, H]`` and, for a probabilistic head,
    ``quantiles`` ``[B, H, K]`` at ``meta["data"]["levels"]`` (a `ForecastEnsemble`: the median over its
    members of their point forecasts and of their quantiles, as `predict`). The covariate scaler (identity when the run
    stored none) is in the weights as ``covariates.loc`` and ``covariates.scale`` ``[K]``. An auto run exports its
    LSTM when the LSTM alone was chosen on validation (without the plausibility catch), and is refused
    when a baseline or a combination was."""
    run = load_forecast(checkpoint)
    if run.selection is not None and run.selection.winner != "lstm":
        raise ValueError(f"{checkpoint}: this auto run forecasts with {run.selection.describe()}, chosen on "
                         "validation, which is not a model to export; refit with --set model.kind=direct to export "
                         "the LSTM")  # fmt: skip
    model, cfg = run.model, run.config
    members = isinstance(model, ForecastEnsemble)
    weights, rebuild = model_weights(model)
    by_series = run.scaler is not None
    if by_series:
        weights["scaler.loc"] = run.scaler.loc.astype(np.float32)
        weights["scaler.scale"] = run.scaler.scale.astype(np.float32)
    names = list(cfg.data.covariate_names)
    channels = len(names)
    covariate_scaler = run.covariate_scaler or CovariateScaler.identity(channels)
    if channels:
        weights["covariates.loc"] = covariate_scaler.loc.astype(np.float32)
        weights["covariates.scale"] = covariate_scaler.scale.astype(np.float32)
    probabilistic = model.head != "point"
    if levels is None:
        levels = tuple(model.quantiles) if probabilistic else ()
    elif not probabilistic:
        raise ValueError("a point head gives no quantiles; export without levels")
    levels = tuple(float(q) for q in levels)
    if any(not 0 < q < 1 for q in levels):
        raise ValueError(f"levels must lie in (0, 1), got {levels}")
    size, method = cfg.data.input_size, cfg.data.scaler

    def fn(w: dict, inputs: dict) -> dict:
        values, count = last_values(inputs["history"], inputs["lengths"], size)
        if by_series:
            loc, scale = w["scaler.loc"][inputs["series"]], w["scaler.scale"][inputs["series"]]
        else:
            loc, scale = window_stats(values, count, method)
        valid = jnp.arange(size).reshape(1, -1) < count.reshape(-1, 1)
        scaled = jnp.where(valid, (values - loc[:, None]) / scale[:, None], 0.0)
        covariates = {}
        if channels:
            c_loc, c_scale = w["covariates.loc"].reshape(1, 1, -1), w["covariates.scale"].reshape(1, 1, -1)
            past = (last_values(inputs["past"], inputs["lengths"], size)[0] - c_loc) / c_scale
            future = (inputs["future"] - c_loc) / c_scale
            covariates = {"past": jnp.where(valid[..., None], past, 0.0), "future": future}
        raw = rebuild(w)(scaled, count, **covariates)  # an ensemble's: [M, B, H, P], its median forecast as predict's
        point = point_forecast(model.head, raw, model.quantiles)
        out = {"mean": (jnp.median(point, axis=0) if members else point) * scale[:, None] + loc[:, None]}
        if levels:
            q = raw_quantiles(model.head, raw, levels, model.quantiles)
            out["quantiles"] = (jnp.median(q, axis=0) if members else q) * scale[:, None, None] + loc[:, None, None]
        return out

    inputs = [Input("history", ("B", "T"), "float32"), Input("lengths", ("B",), "int32", (1, "T"))]
    if by_series:
        inputs.append(Input("series", ("B",), "int32", (0, len(run.scaler.loc) - 1)))
    if channels:
        inputs += [Input("past", ("B", "T", channels), "float32"),
                   Input("future", ("B", model.horizon, channels), "float32")]  # fmt: skip
    meta = read_meta(checkpoint)
    data = {
        "input_size": size,
        "horizon": model.horizon,
        "kind": model.kind,
        "head": model.head,
        "levels": list(levels) or None,
        "scaler": {"method": method, "scope": cfg.data.scale_scope, **({} if not by_series else run.scaler.to_json())},
    }
    if channels:
        data |= {"covariates": names, "covariate_scaler": covariate_scaler.to_json()}
    return _kwargs("forecast", {"forecast": Function(fn, tuple(inputs))}, weights, meta, data, checkpoint)


def last_values(history: jax.Array, lengths: jax.Array, size: int) -> tuple[jax.Array, jax.Array]:
    """The last ``min(n, size)`` of each row's ``n = lengths`` steps of ``history`` ``[B, T, ...]`` left-aligned
    in ``[B, size, ...]`` (zeros after), and their counts ``[B]`` (`recurrax.tasks.forecast._data.last_inputs`
    for padded rows; a trailing axis, e.g. ``K`` covariates, is carried along)."""
    count = jnp.minimum(lengths, size)
    batch, trailing = history.shape[0], history.shape[2:]
    ones = (1,) * len(trailing)
    index = (lengths - count).reshape(-1, 1, *ones) + jnp.arange(size).reshape(1, -1, *ones)
    padded = jnp.concatenate([history, jnp.zeros((batch, size, *trailing), history.dtype)], axis=1)
    values = jnp.take_along_axis(padded, jnp.broadcast_to(index, (batch, size, *trailing)), axis=1)
    valid = jnp.arange(size).reshape(1, -1, *ones) < count.reshape(-1, 1, *ones)
    return jnp.where(valid, values, 0.0), count


def window_stats(values: jax.Array, count: jax.Array, method: str) -> tuple[jax.Array, jax.Array]:
    """``loc``, ``scale`` ``[B]`` of each row's first ``count`` values, as `Scaler.fit` ``method`` (a zero
    scale becomes 1; ``robust`` uses NumPy's linear-interpolation percentiles)."""
    valid = jnp.arange(values.shape[1]).reshape(1, -1) < count.reshape(-1, 1)
    n = count.astype(values.dtype)
    zeros = jnp.zeros_like(n)
    if method == "none":
        return zeros, jnp.ones_like(n)
    if method == "meanabs":
        loc, scale = zeros, jnp.sum(jnp.where(valid, jnp.abs(values), 0.0), axis=1) / n
    elif method == "last":
        loc, scale = zeros, jnp.abs(jnp.take_along_axis(values, (count - 1).reshape(-1, 1), axis=1)[:, 0])
    elif method == "standard":
        loc = jnp.sum(jnp.where(valid, values, 0.0), axis=1) / n
        scale = jnp.sqrt(jnp.sum(jnp.where(valid, (values - loc[:, None]) ** 2, 0.0), axis=1) / n)
    elif method == "robust":
        ordered = jnp.sort(jnp.where(valid, values, jnp.inf), axis=1)

        def percentile(p: float) -> jax.Array:
            position = p * (n - 1)
            lo = jnp.floor(position)
            hi = jnp.minimum(lo + 1, n - 1)
            at_lo = jnp.take_along_axis(ordered, lo.astype(jnp.int32)[:, None], axis=1)[:, 0]
            at_hi = jnp.take_along_axis(ordered, hi.astype(jnp.int32)[:, None], axis=1)[:, 0]
            return at_lo + (position - lo) * (at_hi - at_lo)

        loc, scale = percentile(0.5), percentile(0.75) - percentile(0.25)
    else:
        raise ValueError(f"unknown scaler {method!r}; expected standard, robust, meanabs, last or none")
    return loc, jnp.where(scale > 0, scale, 1.0)


def raw_quantiles(head: str, raw: jax.Array, levels: tuple[float, ...], quantiles: tuple[float, ...]) -> jax.Array:
    """Quantiles ``[B, H, K]`` at ``levels`` of raw head outputs ``[B, H, P]`` in scaled units (as
    `recurrax.tasks.forecast._heads.head_quantiles`): a gaussian head ``mu + sigma * Phi^{-1}(level)``, a
    quantile head its sorted outputs interpolated linearly at ``levels`` (clamped at the outermost), a
    student_t head ``mu + sigma * t_nu^{-1}(level)`` (`t_quantile`)."""
    if head == "gaussian":
        sigma = jax.nn.softplus(raw[..., 1:2]) + MIN_SCALE
        return raw[..., :1] + sigma * jnp.asarray(stats.norm.ppf(levels), raw.dtype).reshape(
            (1,) * (raw.ndim - 1) + (-1,)
        )
    if head == "student_t":
        sigma = jax.nn.softplus(raw[..., 1]) + MIN_SCALE
        nu = 2.0 + jax.nn.softplus(raw[..., 2])
        return jnp.stack([raw[..., 0] + sigma * t_quantile(level, nu) for level in levels], axis=-1)
    own = jnp.sort(raw, axis=-1)
    return own @ jnp.asarray(interpolation_matrix(levels, quantiles), raw.dtype)


def interpolation_matrix(levels: tuple[float, ...], quantiles: tuple[float, ...]) -> np.ndarray:
    """``M`` ``[P, K]`` with ``values @ M == np.interp(levels, quantiles, values)`` for any ``values`` ``[P]``
    (`np.interp` is linear in its ``fp``, so column ``k`` holds the weights of level ``k``)."""
    basis = np.eye(len(quantiles))
    return np.stack([np.interp(levels, quantiles, row) for row in basis]).astype(np.float32)


def t_quantile(level: float, nu: jax.Array, iterations: int = 40) -> jax.Array:
    """The ``level`` quantile of Student's t with ``nu >= 2`` degrees of freedom (any shape), by bisection on
    ``P(T > x) = I_{nu / (nu + x^2)}(nu / 2, 1 / 2) / 2`` (the regularised incomplete beta function).

    The bracket is ``[0, t_2]``, ``t_2`` the quantile at ``nu = 2`` (closed form ``(2q - 1) / sqrt(2q(1 - q))``),
    which bounds it for every ``nu >= 2``; 40 halvings leave the float32 ``betainc`` as the error (about 2e-5
    relative against `scipy.stats.t.ppf`). JAX has no t quantile function, hence this.
    """
    upper = max(level, 1.0 - level)
    bound = (2 * upper - 1) / np.sqrt(2 * upper * (1 - upper)) * 1.01 + 1e-3

    def halve(_: int, bracket: tuple[jax.Array, ...]) -> tuple[jax.Array, ...]:
        lo, hi, dof = bracket  # dof rides in the carry: jax2onnx's Loop takes no traced closure
        mid = 0.5 * (lo + hi)
        tail = 0.5 * jax.scipy.special.betainc(dof / 2, jnp.full_like(dof, 0.5), dof / (dof + mid * mid))
        above = tail > 1.0 - upper  # the quantile lies above mid
        return jnp.where(above, mid, lo), jnp.where(above, hi, mid), dof

    lo, hi, _ = jax.lax.fori_loop(0, iterations, halve, (jnp.zeros_like(nu), jnp.full_like(nu, bound), nu))
    return 0.5 * (lo + hi) if level >= 0.5 else -0.5 * (lo + hi)
