"""CTC line recognition under the honest protocol: settings chosen on the valid lines, the test lines scored
once per reported configuration, over several training seeds (mean ± sd, every seed listed).

Every run renders the same lines (``data.seed`` fixes the dataset; the valid and test lines hold only words
absent from the training lines) and differs in ``train.seed`` (initialisation and batch order). ``--dev``
trains on the train lines and scores the valid lines only: the test split is never rendered.

    python benchmarks/ctc_protocol.py --name clean --dev --seeds 0 --out runs/ctc_dev_clean.json
    python benchmarks/ctc_protocol.py --name clean --seeds 0 1 2 --out runs/ctc_clean.json
    python benchmarks/ctc_protocol.py --name captcha --set train.steps=3000 --seeds 0 1 2

``--name`` picks a row of `CONFIGS` laid over ``configs/ctc.toml``; ``--set`` adds overrides.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from recurrax._host import cpu_name
from recurrax.config import load_config, to_dict, to_toml
from recurrax.tasks import ctc
from recurrax.train import start_run_dir

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "ctc.toml"
CONFIGS = {
    # the shipped config: mild distortion of the captcha renderer, no noise
    "clean": [],
    # captcha's own distortion (its default rotation, warp and overlap), with its noise dots and arc
    "captcha": ["data.rotate=30", "data.warp=0.3", "data.overlap=0.25", "data.noise=true"],
}
METRICS = ("cer", "wer", "line_accuracy", "loss")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", choices=sorted(CONFIGS), default="clean")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="section.key=value")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--dev", action="store_true", help="score the valid lines only (no test split)")
    parser.add_argument("--decode", choices=("greedy", "beam"), action="append", default=None)
    parser.add_argument("--out", type=Path, default=None, help="JSON results")
    parser.add_argument("--runs", type=Path, default=None, help="keep the run directories under this folder")
    args = parser.parse_args()

    overrides = CONFIGS[args.name] + args.overrides
    cfg = load_config(ctc.CTCConfig, CONFIG, overrides)
    scored = ("train", "valid") if args.dev else ("train", "valid", "test")
    start = time.perf_counter()
    splits = {split: ctc.make_split(cfg.data, split) for split in scored}
    render_s = time.perf_counter() - start
    print(f"{cpu_name()}: rendered {sum(len(s) for s in splits.values())} lines in {render_s:.1f} s", flush=True)
    target = "valid" if args.dev else "test"
    methods = args.decode or ["greedy"]
    per_seed = []
    root = args.runs or Path(tempfile.mkdtemp(prefix="recurrax-ctc-"))
    for seed in args.seeds:
        run_cfg = load_config(ctc.CTCConfig, CONFIG, [*overrides, f"train.seed={seed}"])
        run_dir = start_run_dir(root / f"{args.name}-seed{seed}{'-dev' if args.dev else ''}", to_toml(run_cfg), False)
        t0 = time.perf_counter()
        run = ctc.train_ctc(run_cfg, {k: splits[k] for k in ("train", "valid")}, run_dir, progress=False)
        train_s = time.perf_counter() - t0
        row = {"seed": seed, "steps": run.fit.step, "train_s": train_s, "run_dir": str(run_dir)}
        for method in methods:
            decode_cfg = ctc.DecodeConfig(method=method, beam_size=run_cfg.decode.beam_size)
            t0 = time.perf_counter()
            scores, _ = ctc.evaluate_lines(run.model, splits[target], run_cfg, decode_cfg)
            row[method] = {**scores, "decode_s": time.perf_counter() - t0}
        per_seed.append(row)
        print(json.dumps(row), flush=True)
    summary = {
        method: {
            name: {
                "mean": statistics.fmean(r[method][name] for r in per_seed),
                "sd": statistics.stdev(r[method][name] for r in per_seed) if len(per_seed) > 1 else 0.0,
            }
            for name in METRICS
        }
        for method in methods
    }
    result = {
        "name": args.name,
        "split": target,
        "overrides": overrides,
        "config": to_dict(cfg),
        "machine": cpu_name(),
        "render_s": render_s,
        "seeds": per_seed,
        "summary": summary,
    }
    for method, values in summary.items():
        text = ", ".join(f"{k} {v['mean']:.4f} ± {v['sd']:.4f}" for k, v in values.items())
        print(f"{args.name} {target} {method} over seeds {args.seeds}: {text}", flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
