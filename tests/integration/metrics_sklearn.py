#!/usr/bin/env python3
"""metrics_sklearn.py - checks src/eval/metrics.c against scikit-learn and numpy.

Generates many cases (random continuous scores, heavily tied scores, n from 1 to 20000, 1%
positives, one class only, separable classes, scores exactly 0 and 1 and on the calibration
bins' edges; without weights, with integer weights including zeros, and a few with fractional
weights), runs tests/tools/metrics_tool on them and compares every metric and curve with
scikit-learn (within 1e-9, relative above 1):

  auroc          roc_auc_score
  auprc          average_precision_score (NaN expected without positive weight, where
                 scikit-learn returns 0 with a warning)
  brier          brier_score_loss
  ece, calcurve  calibration_curve(strategy="uniform"): unweighted directly; weighted from bin
                 sums made the way calibration_curve makes them (numpy.searchsorted on
                 linspace's inner edges, numpy.bincount), and for integer weights also
                 calibration_curve on the rows repeated weight times
  calibration    LogisticRegression(penalty=None, solver="newton-cholesky", tol=1e-12) within
                 1e-9, and Newton's method in numpy (below), run to rounding noise, within 1e-9
                 (newton-cholesky stops at a gradient tolerance: here it lands within about
                 1e-11 of the optimum).  LogisticRegression is fitted on the rows with
                 positive weight only: zero weights make newton-cholesky see "negative"
                 (zero) pointwise Hessians and fall back to lbfgs, which is far less
                 precise.  Undefined (NaN, rc -1) when one class has all the weight or the
                 classes' logits do not overlap (complete or quasi-complete separation: no
                 maximum exists)
  thresholds     recall_score (sensitivity, and of the negatives: specificity),
                 precision_score (PPV; NaN expected when no weight is predicted positive),
                 net benefit by its formula
  roc            roc_curve(drop_intermediate=False): (fpr, tpr) as they are
  pr             precision_recall_curve: our (recall, precision) points are its arrays
                 reversed (it ends with the point (0, 1); we start with it)
  pct            numpy.percentile (linear) of the finite values
  boot           the bootstrap weights: integers, equal within a patient, summing to the
                 number of patients drawn, deterministic, differing between replicates,
                 about Poisson(1) per patient

Usage: metrics_sklearn.py TOOL WORKDIR
Exits 1 naming the case and the metric at the first mismatch.
"""
import math
import os
import subprocess
import sys
import warnings

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.exceptions import ConvergenceWarning, UndefinedMetricWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

warnings.simplefilter("ignore", UndefinedMetricWarning)
warnings.simplefilter("ignore", ConvergenceWarning)

TOL = 1e-9
FIT_SKLEARN_TOL = 1e-9
ECE_BINS = 10  # MF_ECE_BINS, what mf_metrics_all uses
NAN = float("nan")


class Mismatch(Exception):
    pass


def close(c, e, tol=TOL):
    if math.isnan(e) or math.isnan(c):
        return math.isnan(e) and math.isnan(c)
    return abs(c - e) <= tol * max(1.0, abs(e))


def check(case, key, got, want, tol=TOL):
    got = np.atleast_1d(np.asarray(got, dtype=float))
    want = np.atleast_1d(np.asarray(want, dtype=float))
    if got.shape != want.shape:
        raise Mismatch(f"{case}: {key}: {got.size} values, expected {want.size}\n"
                       f"  got  {got[:12].tolist()}\n  want {want[:12].tolist()}")
    for i, (c, e) in enumerate(zip(got.tolist(), want.tolist())):
        if not close(c, e, tol):
            raise Mismatch(f"{case}: {key}[{i}]: got {c!r}, expected {e!r}")


# ---- the oracle ---------------------------------------------------------------------------


def logit_clipped(p):
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def loglik(b, X, y, w):
    eta = X @ b
    return float(np.sum(w * (y * eta - np.logaddexp(0, eta))))


def newton_fit(x, y, w):
    """Weighted logistic regression of y on (1, x) by Newton-Raphson with step halving, run
    until the steps reach rounding noise: (intercept, slope)."""
    X = np.column_stack([np.ones_like(x), x])
    prev = np.sum(w * y) / np.sum(w)
    b = np.array([math.log(prev / (1 - prev)), 0.0])
    cur = loglik(b, X, y, w)
    last = math.inf
    for _ in range(200):
        mu = 1 / (1 + np.exp(-(X @ b)))
        g = X.T @ (w * (y - mu))
        H = (X * (w * mu * (1 - mu))[:, None]).T @ X
        step = np.linalg.solve(H, g)
        t = 1.0
        while True:
            nb = b + t * step
            nl = loglik(nb, X, y, w)
            if nl >= cur - 1e-13 * (1 + abs(cur)) or t < 1e-12:
                break
            t /= 2
        b, cur = nb, nl
        r = float(np.max(np.abs(t * step))) / max(1.0, float(np.max(np.abs(b))))
        if r < 1e-15 or (r < 1e-10 and r > last / 8):
            return b[0], b[1]
        last = r
    raise RuntimeError("the oracle's Newton fit did not converge")


def bin_sums(p, y, w, n_bins):
    """Per uniform bin: weight, weighted sums of p and y, exactly as calibration_curve bins
    (linspace edges, searchsorted on the inner ones, bincount)."""
    bins = np.linspace(0.0, 1.0, n_bins + 1)
    ids = np.searchsorted(bins[1:-1], p)
    bw = np.bincount(ids, weights=w, minlength=n_bins)
    bp = np.bincount(ids, weights=w * p, minlength=n_bins)
    by = np.bincount(ids, weights=w * y, minlength=n_bins)
    return bw, bp, by


def calibration_expected(case, p, y, w, n_bins, weighted):
    """(mean predicted, fraction positive, weight) per non-empty bin, and the ECE."""
    keep = w > 0
    if not keep.any():
        return np.zeros((0, 3)), NAN
    if not weighted:
        prob_true, prob_pred = calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
        bins = np.linspace(0.0, 1.0, n_bins + 1)
        counts = np.bincount(np.searchsorted(bins[1:-1], p), minlength=n_bins)
        counts = counts[counts > 0].astype(float)
        pts = np.column_stack([prob_pred, prob_true, counts])
    else:
        bw, bp, by = bin_sums(p[keep], y[keep], w[keep], n_bins)
        nz = bw > 0
        pts = np.column_stack([bp[nz] / bw[nz], by[nz] / bw[nz], bw[nz]])
        if np.all(w == np.round(w)):
            # integer weights: the same as calibration_curve on repeated rows
            reps = w.astype(int)
            prob_true, prob_pred = calibration_curve(
                np.repeat(y, reps), np.repeat(p, reps), n_bins=n_bins, strategy="uniform")
            check(case, f"calcurve{n_bins}(repeated rows).x", pts[:, 0], prob_pred)
            check(case, f"calcurve{n_bins}(repeated rows).y", pts[:, 1], prob_true)
    ece = float(np.sum(pts[:, 2] / pts[:, 2].sum() * np.abs(pts[:, 0] - pts[:, 1])))
    return pts, ece


def expected(case, p, y, w, weighted, n_bins, thresholds, fit_stats):
    """Every value metrics_tool prints, from scikit-learn and numpy."""
    sw = w if weighted else None
    ww = w if weighted else np.ones_like(p)
    keep = ww > 0
    pos, neg = float(np.sum(ww[y == 1])), float(np.sum(ww[y == 0]))
    tot = pos + neg
    e = {}
    both = pos > 0 and neg > 0
    e["auroc"] = roc_auc_score(y, p, sample_weight=sw) if both else NAN
    e["auprc"] = average_precision_score(y, p, sample_weight=sw) if pos > 0 else NAN
    e["brier"] = brier_score_loss(y, p, sample_weight=sw) if tot > 0 else NAN
    pts, e["ece"] = calibration_expected(case, p, y, ww, n_bins, weighted)
    e["calcurve"] = pts.ravel()
    _, ece10 = calibration_expected(case, p, y, ww, ECE_BINS, weighted)

    # the calibration fit
    x = logit_clipped(p)
    xk, yk, wk = x[keep], y[keep], ww[keep]
    xpos, xneg = xk[yk == 1], xk[yk == 0]
    separable = not both or xneg.max() <= xpos.min() or xpos.max() <= xneg.min()
    if separable:
        e["cal_rc"], e["cal_slope"], e["cal_intercept"] = -1, NAN, NAN
    else:
        a, b = newton_fit(xk, yk.astype(float), wk)
        e["cal_rc"], e["cal_slope"], e["cal_intercept"] = 0, b, a
        lr = LogisticRegression(penalty=None, solver="newton-cholesky", tol=1e-12,
                                max_iter=1000)
        lr.fit(xk[:, None], yk, sample_weight=wk)
        e["cal_sklearn"] = [lr.coef_[0, 0], lr.intercept_[0]]
        fit_stats.append(max(abs(lr.coef_[0, 0] - b) / max(1.0, abs(b)),
                             abs(lr.intercept_[0] - a) / max(1.0, abs(a))))

    # thresholds
    e["thr"] = []
    for t in thresholds:
        pred = (p >= t).astype(int)
        tp = float(np.sum(ww[(pred == 1) & (y == 1)]))
        fp = float(np.sum(ww[(pred == 1) & (y == 0)]))
        sens = recall_score(y, pred, sample_weight=sw, zero_division=0) if pos > 0 else NAN
        spec = (recall_score(1 - y, 1 - pred, sample_weight=sw, zero_division=0)
                if neg > 0 else NAN)
        ppv = (precision_score(y, pred, sample_weight=sw, zero_division=0)
               if tp + fp > 0 else NAN)
        nb = tp / tot - fp / tot * t / (1 - t) if tot > 0 else NAN
        e["thr"].append([t, sens, spec, ppv, nb])

    # curves
    if both:
        fpr, tpr, _ = roc_curve(y, p, sample_weight=sw, drop_intermediate=False)
        e["roc"] = np.column_stack([fpr, tpr]).ravel()
    else:
        e["roc"] = np.zeros(0)
    if pos > 0:
        prec, rec, _ = precision_recall_curve(y, p, sample_weight=sw)
        e["pr"] = np.column_stack([rec[::-1], prec[::-1]]).ravel()
    else:
        e["pr"] = np.zeros(0)

    # mf_metrics_all
    allv = [e["auroc"], e["auprc"], e["brier"], ece10, e["cal_slope"], e["cal_intercept"],
            pos / tot if tot > 0 else NAN,
            float(np.sum(ww * p)) / tot if tot > 0 else NAN]
    for row in e["thr"]:
        allv += row[1:]
    e["all"] = allv
    return e


# ---- cases --------------------------------------------------------------------------------


def metrics_cases(rng):
    """(name, p, y, w or None, n_bins, thresholds)"""
    cases = []
    thr = [0.05, 0.1, 0.2, 0.5]

    def add(name, p, y, n_bins=10, t=thr):
        p = np.asarray(p, dtype=float)
        y = np.asarray(y, dtype=int)
        n = len(p)
        cases.append((name, p, y, None, n_bins, t))
        w = rng.integers(0, 4, n).astype(float)
        cases.append((name + "/w0-3", p, y, w, n_bins, t))
        w = rng.integers(0, 3, n).astype(float) * (rng.uniform(size=n) < 0.5)
        cases.append((name + "/w-many-zeros", p, y, w, n_bins, t))
        # the bootstrap's weights: patients drawn k times
        w = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        cases.append((name + "/w-bootstrap", p, y, w, n_bins, t))

    def scores(n, kind):
        if kind == "continuous":
            return rng.uniform(size=n)
        if kind == "beta":
            return rng.beta(0.5, 3, size=n)
        if kind == "tied1":
            return np.round(rng.uniform(size=n), 1)
        if kind == "tied2":
            return np.round(rng.beta(1, 4, size=n), 2)
        raise ValueError(kind)

    for n in (2, 3, 4, 5, 8, 13, 50, 200, 1000, 5000):
        for kind in ("continuous", "beta", "tied1", "tied2"):
            for rep in range(2 if n < 50 else 1):
                p = scores(n, kind)
                y = (rng.uniform(size=n) < np.clip(p * 1.3, 0.02, 0.98)).astype(int)
                add(f"{kind}-n{n}-{rep}", p, y)
                if n >= 50:
                    # labels unrelated to the scores
                    add(f"{kind}-n{n}-noise", p, rng.integers(0, 2, n))
    # the evaluation's size
    n = 20000
    p = rng.beta(1, 5, size=n)
    add("n20000", p, (rng.uniform(size=n) < np.clip(p * 1.2, 0, 1)).astype(int))
    # 1% positives
    for n in (300, 2000):
        p = rng.beta(0.3, 8, size=n)
        y = (rng.uniform(size=n) < p).astype(int)
        if y.sum() == 0:
            y[np.argmax(p)] = 1
        add(f"rare-n{n}", p, y, t=[0.01, 0.02, 0.05, 0.1])
        add(f"rare-tied-n{n}", np.round(p, 2), y, t=[0.01, 0.02, 0.05, 0.1])
    # scores exactly 0 and 1, and on the bin edges (i / 10 and i * 0.1 differ at 3, 6, 7)
    n = 400
    p = rng.choice([0.0, 1.0, 0.5, 0.25], size=n)
    add("zeros-ones", p, (rng.uniform(size=n) < np.clip(p, 0.1, 0.9)).astype(int))
    for nb in (5, 10, 20):
        edges = np.concatenate([np.arange(nb + 1) / nb, np.arange(nb + 1) * (1.0 / nb),
                                np.linspace(0, 1, nb + 1)])
        p = rng.choice(edges, size=600)
        add(f"bin-edges-{nb}", p, (rng.uniform(size=600) < p).astype(int), n_bins=nb,
            t=[0.1, 0.2, 0.3, 0.7])
    p = np.nextafter(np.arange(1, 10) * 0.1, [[-1.0], [2.0]]).ravel()
    add("beside-bin-edges", np.tile(p, 10), rng.integers(0, 2, 180))
    # calibrated, overconfident and underconfident predictions; many bins
    n = 3000
    truth = rng.uniform(0.02, 0.9, size=n)
    y = (rng.uniform(size=n) < truth).astype(int)
    lt = np.log(truth / (1 - truth))
    add("calibrated", truth, y, n_bins=15)
    add("overconfident", 1 / (1 + np.exp(-2.5 * lt)), y, n_bins=7)
    add("underconfident", 1 / (1 + np.exp(-0.4 * lt + 0.5)), y, n_bins=20)
    add("extreme", 1 / (1 + np.exp(-30 * lt)), y)
    # one class only; all scores equal; perfect and perfectly wrong rankings; near separation
    add("all-negative", rng.uniform(size=30), np.zeros(30))
    add("all-positive", rng.uniform(size=30), np.ones(30))
    add("all-tied", np.full(40, 0.3), rng.integers(0, 2, 40))
    p = np.sort(rng.uniform(size=40))
    y = (np.arange(40) >= 25).astype(int)
    add("separable", p, y)
    add("separable-reversed", p, 1 - y)
    add("quasi-separable", np.r_[np.full(5, 0.2), np.full(5, 0.5), np.full(5, 0.7)],
        np.r_[np.zeros(5), [0, 1, 0, 1, 1], np.ones(5)])
    add("overlap-one", np.r_[p[:25], p[20]], np.r_[y[:25], 1])
    add("n1-pos", [0.4], [1])
    add("n1-neg", [0.4], [0])
    add("n2", [0.4, 0.6], [1, 0])

    # hand-picked weights: one class weighs nothing; everything weighs nothing; fractions
    p = rng.uniform(size=50)
    y = (rng.uniform(size=50) < p).astype(int)
    cases.append(("positives-weigh-zero", p, y, np.where(y == 1, 0.0, 2.0), 10, thr))
    cases.append(("negatives-weigh-zero", p, y, np.where(y == 0, 0.0, 1.0), 10, thr))
    cases.append(("all-weigh-zero", p, y, np.zeros(50), 10, thr))
    # the only overlap between the classes has no weight: separable once weighted
    pp = np.r_[p[:20], 0.99, 0.01]
    yy = np.r_[(pp[:20] > 0.5).astype(int), 0, 1]
    cases.append(("overlap-weighs-zero", pp, yy, np.r_[np.ones(20), 0, 0], 10, thr))
    for k in range(3):
        n = 500
        p = np.round(rng.uniform(size=n), 2)
        y = (rng.uniform(size=n) < p).astype(int)
        cases.append((f"fractional-weights-{k}", p, y, rng.uniform(0, 3, n), 10, thr))
    return cases


def write_metrics(f, name, p, y, w, n_bins, thresholds):
    weighted = w is not None
    ww = w if weighted else np.ones_like(p)
    f.write(f"metrics {name} {int(weighted)} {len(p)} {n_bins} {len(thresholds)} "
            + " ".join(repr(float(t)) for t in thresholds) + "\n")
    for pi, yi, wi in zip(p.tolist(), y.tolist(), ww.tolist()):
        f.write(f"{pi!r} {yi} {wi!r}\n")


def pct_cases(rng):
    out = []
    for m in (0, 1, 2, 3, 4, 7, 40, 200, 1000, 1001):
        for level in (0.95, 0.9, 0.5):
            v = rng.normal(size=m)
            if m > 3:
                v[rng.integers(0, m, m // 4)] = np.nan
                v[rng.integers(0, m)] = np.inf
            if m > 10:
                v[: m // 3] = np.round(v[: m // 3], 1)  # ties
            out.append((f"pct-m{m}-{level}", level, v))
    out.append(("pct-all-nan", 0.95, np.full(10, np.nan)))
    out.append(("pct-one-finite", 0.95, np.r_[np.full(10, np.nan), 1.5]))
    return out


def boot_cases():
    out = []
    # (name, clusters, k, seed, b)
    for k, per in ((1, 1), (7, 1), (50, 3), (300, 1), (10000, 1), (9000, 2)):
        cl = np.repeat(np.arange(k), per)
        for seed, b, tag in ((1, 0, ""), (1, 1, ""), (1, 0, "-again"), (2, 0, ""), (1, 999, "")):
            out.append((f"boot-k{k}-per{per}-s{seed}-b{b}{tag}", cl, k, seed, b))
    # patients with different numbers of rows, in any order
    rng = np.random.default_rng(5)
    cl = rng.permutation(np.repeat(np.arange(100), rng.integers(1, 5, 100)))
    out.append(("boot-ragged", cl, 100, 3, 4))
    return out


def parse(text):
    res, cur = {}, None
    for line in text.splitlines():
        parts = line.split()
        if parts[0] == "case":
            cur = res.setdefault(parts[1], {"thr": []})
        elif parts[0] == "thr":
            cur["thr"].append([float(v) for v in parts[1:]])
        else:
            cur[parts[0]] = [float(v) for v in parts[1:]]
    return res


def main():
    tool, work = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(20240611)
    mcases = metrics_cases(rng)
    pcases = pct_cases(rng)
    bcases = boot_cases()
    inp = os.path.join(work, "cases.txt")
    with open(inp, "w") as f:
        for c in mcases:
            write_metrics(f, *c)
        for name, level, v in pcases:
            f.write(f"pct {name} {level!r} {len(v)}\n")
            f.write("\n".join(repr(float(x)) for x in v) + "\n")
        for name, cl, k, seed, b in bcases:
            f.write(f"boot {name} {len(cl)} {k} {seed} {b}\n")
            f.write("\n".join(str(int(c)) for c in cl) + "\n")
    run = subprocess.run([tool, inp], capture_output=True, text=True)
    if run.returncode != 0:
        sys.stderr.write(run.stderr)
        raise SystemExit(f"FAIL: metrics_tool exited {run.returncode}")
    got = parse(run.stdout)

    fit_stats = []
    try:
        for name, p, y, w, n_bins, thresholds in mcases:
            if name not in got:
                raise Mismatch(f"{name}: no output")
            g = got[name]
            e = expected(name, p, y, w if w is not None else np.ones_like(p), w is not None,
                         n_bins, thresholds, fit_stats)
            for key in ("auroc", "auprc", "brier", "ece", "cal_rc", "cal_slope",
                        "cal_intercept", "roc", "pr", "calcurve", "all"):
                check(name, key, g[key], e[key])
            if "cal_sklearn" in e:
                check(name, "cal_slope (LogisticRegression)", g["cal_slope"],
                      e["cal_sklearn"][0], tol=FIT_SKLEARN_TOL)
                check(name, "cal_intercept (LogisticRegression)", g["cal_intercept"],
                      e["cal_sklearn"][1], tol=FIT_SKLEARN_TOL)
            for j, (gt, et) in enumerate(zip(g["thr"], e["thr"])):
                for k, key in enumerate(("threshold", "sensitivity", "specificity", "ppv",
                                         "net_benefit")):
                    check(name, f"t={et[0]} {key}", gt[k], et[k])
            if len(g["thr"]) != len(thresholds):
                raise Mismatch(f"{name}: {len(g['thr'])} thresholds printed")

        for name, level, v in pcases:
            fin = v[np.isfinite(v)]
            if fin.size >= 2:
                want = np.percentile(fin, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
            else:
                want = [NAN, NAN]
            check(name, "pct", got[name]["pct"], want, tol=1e-12)

        boots = {}
        for name, cl, k, seed, b in bcases:
            wv = np.asarray(got[name]["boot"])
            boots[name] = wv
            if wv.size != cl.size or np.any(wv != np.round(wv)) or np.any(wv < 0):
                raise Mismatch(f"{name}: weights are not counts: {wv[:10]}")
            per = np.zeros(k)
            per[cl] = wv
            if np.any(per[cl] != wv):
                raise Mismatch(f"{name}: rows of one patient weigh differently")
            if per.sum() != k:
                raise Mismatch(f"{name}: {per.sum()} patients drawn, expected {k}")
            if k >= 9000:
                # about Poisson(1) per patient: P(0) = 1/e, P(1) = 1/e, P(2) = 1/(2e)
                for c, pr in ((0, 1 / math.e), (1, 1 / math.e), (2, 0.5 / math.e)):
                    frac = float(np.mean(per == c))
                    sd = math.sqrt(pr * (1 - pr) / k)
                    if abs(frac - pr) > 5 * sd:
                        raise Mismatch(f"{name}: {frac} patients drawn {c} times, "
                                       f"expected {pr:.4f}")
        for k, per in ((7, 1), (50, 3), (300, 1), (10000, 1), (9000, 2)):
            base = f"boot-k{k}-per{per}"
            a, a2 = boots[f"{base}-s1-b0"], boots[f"{base}-s1-b0-again"]
            if not np.array_equal(a, a2):
                raise Mismatch(f"{base}: not deterministic")
            for other in ("s1-b1", "s2-b0", "s1-b999"):
                if k >= 50 and np.array_equal(a, boots[f"{base}-{other}"]):
                    raise Mismatch(f"{base}: replicate {other} equals s1-b0")
    except Mismatch as ex:
        raise SystemExit(f"FAIL: {ex}")
    print(f"metrics_sklearn: {len(mcases)} metric cases, {len(pcases)} percentile cases, "
          f"{len(bcases)} bootstrap cases agree; LogisticRegression(newton-cholesky) is within "
          f"{max(fit_stats):.1e} of the Newton oracle over {len(fit_stats)} fits")


if __name__ == "__main__":
    main()
