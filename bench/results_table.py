#!/usr/bin/python3
"""results_table.py - the tables of docs/results.md from `medfm eval` reports.

    bench/results_table.py REPORT/metrics.json...

One table of AUROC (95% bootstrap interval) and one of Brier score per report: a row per task,
a column per predictor, then the best baseline, whether medfm (zero-shot or probe) is at or
above it, and, with the truth, the zero-shot and probe AUROC as fractions of the oracle's.
"""
import json
import sys

COLS = ["medfm_zero_shot", "medfm_probe", "logreg", "xgboost", "oracle"]
HEAD = ["medfm zero-shot", "medfm probe", "logistic regression", "XGBoost", "oracle"]


def fmt(e, digits=3):
    if e is None or e.get("value") is None:
        return "n/a"
    v = e["value"]
    if e.get("lo") is None:
        return f"{v:.{digits}f}"
    return f"{v:.{digits}f} ({e['lo']:.{digits}f}–{e['hi']:.{digits}f})"


def value(e):
    return None if e is None else e.get("value")


def table(m, metric):
    rows = []
    head = ["task", "samples (positives)"] + HEAD
    if metric == "auroc":
        head += ["best baseline", "medfm ≥ best baseline", "zero-shot / oracle",
                 "probe / oracle"]
    rows.append("| " + " | ".join(head) + " |")
    rows.append("|" + "---|" * len(head))
    for t in m["tasks"]:
        preds = {p["id"]: p for p in t["predictors"]}
        c = t["cohort"]
        cells = [t["task"], f"{c['samples']} ({c['positives']})"]
        for k in COLS:
            cells.append(fmt(preds[k]["metrics"][metric]) if k in preds else "—")
        if metric == "auroc":
            base = [value(preds[k]["metrics"]["auroc"]) for k in ("logreg", "xgboost")
                    if k in preds]
            base = [b for b in base if b is not None]
            mine = [value(preds[k]["metrics"]["auroc"]) for k in ("medfm_zero_shot",
                                                                    "medfm_probe")
                    if k in preds]
            mine = [x for x in mine if x is not None]
            best = max(base) if base else None
            cells.append(f"{best:.3f}" if best is not None else "—")
            cells.append("—" if best is None or not mine else
                         ("yes" if max(mine) >= best else "no"))
            for k in ("medfm_zero_shot", "medfm_probe"):
                of = preds.get(k, {}).get("oracle_fraction")
                cells.append(fmt(of["auroc"]) if of else "—")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main():
    for path in sys.argv[1:]:
        m = json.load(open(path))
        name = path.split("/")[-2]
        ext = "external" if m["store"]["external"] else "internal"
        print(f"### {name} ({ext}, split {m['split']}, store sources "
              f"{', '.join(m['store']['sources'])}, {m['settings']['samples']} futures per "
              f"prediction, {m['settings']['bootstrap']} bootstrap replicates)\n")
        print("AUROC\n")
        print(table(m, "auroc"))
        print("\nBrier score\n")
        print(table(m, "brier"))
        eff = [(t["task"], t.get("effects")) for t in m["tasks"] if t.get("effects")]
        if eff:
            print("\nWhat-if agreement (model vs true risk differences)\n")
            print("| task | pairs | Pearson r | sign agreement |")
            print("|---|---|---|---|")
            for task, e in eff:
                sa = e["sign_agreement"]
                print(f"| {task} | {e['pairs']} | {fmt(e['pearson'])} | "
                      f"{'n/a' if sa is None else f'{sa:.2f}'} |")
        if m["notes"]:
            print("\nNotes: " + "; ".join(m["notes"]))
        print()


if __name__ == "__main__":
    main()
