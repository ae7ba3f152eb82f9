"""The odyssey study's analysis: fANOVA importances, Welch tests, the tables, the paper's findings, the plots.

- **Importances** (`importances`): Optuna's `FanovaImportanceEvaluator` (Hutter et al. 2014: a random
  forest fitted to the trials, the variance of each parameter's marginal over the total; needs
  scikit-learn), on every complete trial of a task pooled over variants, as the paper's Figure 5. A second
  analysis adds the variant as a categorical parameter.
- **Tests**: Welch's t-test (unequal variances; ``p`` two-sided from Student's t with the Welch-Satterthwaite
  degrees of freedom), each variant's test seeds against V's.
- **Findings** (`findings`): the paper's claims, each with the evidence here and whether it holds:
  "worse" holds when the variant's mean test metric is higher than V's with ``p < 0.05``; "costs nothing"
  holds when it is not significantly worse; "most important" when the parameter has the largest pooled
  importance.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import numpy as np
from scipy.special import stdtr

from .._extras import MissingExtra
from ._odyssey import LABELS, PARAMS, VARIANTS, Space

ALPHA = 0.05
PARAM_LABELS = {"lr": "learning rate", "hidden": "hidden size", "one_minus_beta1": "momentum (1 - Adam β1)",
                "noise": "input noise σ", "variant": "variant"}  # fmt: skip


def welch(a: list[float], b: list[float]) -> tuple[float, float]:
    """``(t, p)`` of Welch's two-sided t-test of mean(a) = mean(b); ``nan`` with fewer than 2 values each."""
    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    if va + vb == 0:
        return (
            (0.0, 1.0)
            if statistics.fmean(a) == statistics.fmean(b)
            else (math.copysign(math.inf, statistics.fmean(a) - statistics.fmean(b)), 0.0)
        )
    t = (statistics.fmean(a) - statistics.fmean(b)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return t, float(2 * stdtr(df, -abs(t)))


def importances(trials: list[dict], space: Space, with_variant: bool = False, seed: int = 0) -> dict[str, float]:
    """fANOVA importance of each searched parameter over ``trials`` (``{"params", "value"[, "variant"]}``);
    ``{}`` with fewer than 4 trials."""
    import optuna
    from optuna.distributions import CategoricalDistribution

    try:
        import sklearn  # noqa: F401  (the evaluator's random forest)
    except ImportError:
        raise MissingExtra("fANOVA importances need scikit-learn: pip install 'recurrax[study]'") from None
    if len(trials) < 4:
        return {}
    dists = space.distributions()
    if with_variant:
        dists["variant"] = CategoricalDistribution(VARIANTS)
    study = optuna.create_study(direction="minimize")
    for t in trials:
        params = {k: t["params"][k] for k in PARAMS} | ({"variant": t["variant"]} if with_variant else {})
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, value=t["value"]))
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    ranked = optuna.importance.get_param_importances(study, evaluator=evaluator, normalize=True)
    return {k: float(v) for k, v in ranked.items()}


def analyse(results: dict) -> dict:
    """Per task: the variant rows (trials, medians, best, test, Welch ``p`` against V), the importances and
    the findings; added to ``results`` as ``analysis``."""
    space = Space(**{k: tuple(v) for k, v in results["config"]["space"].items()})
    analysis = {}
    for task, result in results["tasks"].items():
        variants = result["variants"]
        pooled = [t | {"variant": v} for v, r in variants.items() for t in r["trials"]]
        reference = variants.get("vanilla", {}).get("final", {}).get("test", [])
        rows = {}
        for v, r in variants.items():
            values = [t["value"] for t in r["trials"]]
            test = r.get("final", {}).get("test", [])
            rows[v] = {"trials": len(values), "failed": r["failed"],
                       "median_valid": statistics.median(values) if values else math.nan,
                       "best_valid": min(values) if values else math.nan, "best": r.get("final", {}).get("params"),
                       "test": test, "test_mean": statistics.fmean(test) if test else math.nan,
                       "test_sd": statistics.stdev(test) if len(test) > 1 else math.nan,
                       "p_vs_v": welch(test, reference)[1] if v != "vanilla" else math.nan}  # fmt: skip
        imp = importances(pooled, space)
        imp_v = importances(pooled, space, with_variant=True)
        analysis[task] = {"rows": rows, "importances": imp, "importances_with_variant": imp_v,
                          "findings": findings(rows, imp)}  # fmt: skip
    results["analysis"] = analysis
    return results


def findings(rows: dict, imp: dict[str, float]) -> list[dict]:
    """The paper's claims checked on one task's rows and pooled importances."""
    ref = rows.get("vanilla", {}).get("test_mean", math.nan)

    def compare(v: str) -> tuple[str, bool | None]:
        r = rows.get(v)
        if r is None or not r["test"] or math.isnan(ref):
            return "not run", None
        worse = bool(r["test_mean"] > ref and r["p_vs_v"] < ALPHA)
        return f"{LABELS[v]} {r['test_mean']:.3f} vs V {ref:.3f}, p = {r['p_vs_v']:.3f}", worse

    out = []
    for v, claim in (("nfg", "removing the forget gate hurts (NFG worse)"),
                     ("noaf", "removing the output activation hurts (NOAF worse)")):  # fmt: skip
        evidence, worse = compare(v)
        out.append({"claim": claim, "evidence": evidence, "holds": worse})
    for v, claim in (("cifg", "coupling input and forget gate costs nothing (CIFG not worse)"),
                     ("np", "dropping the peepholes costs nothing (NP not worse)")):  # fmt: skip
        evidence, worse = compare(v)
        out.append({"claim": claim, "evidence": evidence, "holds": None if worse is None else not worse})
    better = [
        v for v, r in rows.items() if v != "vanilla" and r["test"] and r["test_mean"] < ref and r["p_vs_v"] < ALPHA
    ]
    out.append({"claim": "no variant is significantly better than V",
                "evidence": "significantly better: " + (", ".join(LABELS[v] for v in better) or "none"),
                "holds": None if math.isnan(ref) else not better})  # fmt: skip
    if imp:
        top = max(imp, key=imp.get)
        ranking = ", ".join(f"{PARAM_LABELS[k]} {v:.2f}" for k, v in sorted(imp.items(), key=lambda kv: -kv[1]))
        out.append({"claim": "the learning rate is the most important hyperparameter (fANOVA)",
                    "evidence": ranking, "holds": bool(top == "lr")})  # fmt: skip
        out.append({"claim": "momentum matters little (here Adam's β1; importance < 0.1)",
                    "evidence": f"{imp.get('one_minus_beta1', 0.0):.2f}", "holds": bool(imp.get("one_minus_beta1", 0.0) < 0.1)})  # fmt: skip
    return out


def _fmt(x: float, digits: int = 3) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def results_markdown(results: dict) -> str:
    """The tables: per task the variants, the importances and the findings."""
    parts = [(f"{results['configs_on_test']} configurations saw the test split (each variant's best on valid, "
             "once per seed); every other trial was scored on valid only.\n")]  # fmt: skip
    verdict = {True: "holds", False: "does not hold", None: "not tested"}
    for task, a in results["analysis"].items():
        metric = results["tasks"][task]["metric"]
        parts.append(f"## {task} ({metric}, lower is better)\n")
        parts.append("| variant | trials (failed) | median valid | best valid | best config: lr, H, β1, σ | "
                     "test mean ± sd (seeds) | p vs V |\n|---|---:|---:|---:|---|---|---:|")  # fmt: skip
        for v, r in a["rows"].items():
            b = r["best"]
            config = f"{b['lr']:.2g}, {b['hidden']}, {1 - b['one_minus_beta1']:.2f}, {b['noise']:.2f}" if b else "–"
            seeds = ", ".join(f"{x:.3f}" for x in r["test"])
            parts.append(f"| {LABELS[v]} | {r['trials']} ({r['failed']}) | {_fmt(r['median_valid'])} | "
                         f"{_fmt(r['best_valid'])} | {config} | {_fmt(r['test_mean'])} ± {_fmt(r['test_sd'])} ({seeds}) | "
                         f"{_fmt(r['p_vs_v'])} |")  # fmt: skip
        imp, imp_v = a["importances"], a["importances_with_variant"]
        keys = [*PARAMS, "variant"]
        parts.append("\n| fANOVA importance | " + " | ".join(PARAM_LABELS[k] for k in keys) + " |")
        parts.append("|---|" + "---:|" * len(keys))
        parts.append("| pooled over variants | " + " | ".join(_fmt(imp.get(k, math.nan), 2) for k in keys) + " |")
        parts.append("| variant as a parameter | " + " | ".join(_fmt(imp_v.get(k, math.nan), 2) for k in keys) + " |")
        parts.append("\n| finding of Greff et al. 2017 | evidence here | verdict |\n|---|---|---|")
        for f in a["findings"]:
            parts.append(f"| {f['claim']} | {f['evidence']} | {verdict[f['holds']]} |")
        parts.append("")
    return "\n".join(parts) + "\n"


def plot(results: dict, out: str | Path) -> list[Path]:
    """``boxplots.png`` (valid metric of every trial per variant, test seeds of the best as dots),
    ``importances.png`` (pooled fANOVA importances per task) and ``learning_rate.png`` (valid metric against
    the learning rate, per variant). Returns the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    tasks = list(results["analysis"])
    files = []
    fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        variants = results["tasks"][task]["variants"]
        names = list(variants)
        data = [[t["value"] for t in variants[v]["trials"]] for v in names]
        ax.boxplot(data, tick_labels=[LABELS[v] for v in names], showfliers=True)
        for k, v in enumerate(names):
            test = variants[v].get("final", {}).get("test", [])
            ax.plot([k + 1] * len(test), test, "r.", label="test (best config)" if k == 0 else None)
        finite = np.concatenate([np.asarray(d, float) for d in data if d]) if any(data) else np.zeros(1)
        low, high = np.nanmin(finite), np.nanpercentile(finite, 90)
        ax.set_ylim(low - 0.05 * (high - low + 1e-9), high + 0.3 * (high - low + 1e-9))
        ax.set_title(f"{task}: valid of every trial (box), test of the best (dots)")
        ax.set_ylabel(results["tasks"][task]["metric"])
        ax.legend(loc="upper right")
    fig.tight_layout()
    files.append(out / "boxplots.png")
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / max(len(tasks), 1)
    for k, task in enumerate(tasks):
        imp = results["analysis"][task]["importances"]
        ax.bar(np.arange(len(PARAMS)) + k * width, [imp.get(p, 0.0) for p in PARAMS], width, label=task)
    ax.set_xticks(np.arange(len(PARAMS)) + width * (len(tasks) - 1) / 2, [PARAM_LABELS[p] for p in PARAMS])
    ax.set_ylabel("fANOVA importance")
    ax.set_title("Hyperparameter importance, pooled over variants")
    ax.legend()
    fig.tight_layout()
    files.append(out / "importances.png")
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        variants = results["tasks"][task]["variants"]
        all_values = [t["value"] for r in variants.values() for t in r["trials"]]
        for v, r in variants.items():
            ax.scatter(
                [t["params"]["lr"] for t in r["trials"]], [t["value"] for t in r["trials"]], s=12, label=LABELS[v]
            )
        ax.set_xscale("log")
        if all_values:
            ax.set_ylim(min(all_values) - 0.05, np.percentile(all_values, 90) + 0.3)
        ax.set_xlabel("learning rate")
        ax.set_ylabel(f"valid {results['tasks'][task]['metric']}")
        ax.set_title(task)
        ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    files.append(out / "learning_rate.png")
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)
    return files
