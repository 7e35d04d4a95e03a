"""Fit the rational tanh(x) ~ x P(x^2) / Q(x^2), P(0) = Q(0) = 1, used by fnn_math.h.

Least maximal relative error on [0, T] at 50 digits (needs mpmath): Sanathanan-Koerner
iterations (the linear least-squares problem x P - t Q = 0 weighted by 1 / (t Q_prev))
with Lawson reweighting (weights times |error|) towards the minimax solution.  Prints
the maximal relative error and the coefficients, highest degree first (Horner order).

    python tools/fit_tanh.py 4 4 9.02      # float:  T where tanh rounds to 1 in float
    python tools/fit_tanh.py 10 9 19.07    # double
"""
import argparse

import mpmath as mp


def fit(k, m, T, npts=400, iters=30):
    xs = [T * (1 - mp.cos(mp.pi * (i + 0.5) / npts)) / 2 for i in range(npts)]
    ts = [mp.tanh(x) for x in xs]
    ss = [x * x for x in xs]
    qprev, lawson = [mp.mpf(1)] * npts, [mp.mpf(1)] * npts
    best = None
    for it in range(iters):
        rows, rhs = [], []
        for x, t, s, q, w in zip(xs, ts, ss, qprev, lawson):
            wt = mp.sqrt(w) / (t * q)
            rows.append([wt * x * s**i for i in range(1, k + 1)]
                        + [-wt * t * s**j for j in range(1, m + 1)])
            rhs.append(wt * (t - x))
        sol = mp.qr_solve(mp.matrix(rows), mp.matrix(rhs))[0]
        p = [mp.mpf(1)] + [sol[i] for i in range(k)]
        q = [mp.mpf(1)] + [sol[k + j] for j in range(m)]
        errs = [(x * mp.polyval(p[::-1], s) / mp.polyval(q[::-1], s) - t) / t
                for x, t, s in zip(xs, ts, ss)]
        emax = max(abs(e) for e in errs)
        if best is None or emax < best[0]:
            best = (emax, p, q)
        qprev = [mp.polyval(q[::-1], s) for s in ss]
        if it >= 5:
            lawson = [w * abs(e) for w, e in zip(lawson, errs)]
            total = sum(lawson)
            lawson = [w * npts / total for w in lawson]
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("p_degree", type=int)
    ap.add_argument("q_degree", type=int)
    ap.add_argument("T", type=mp.mpf)
    args = ap.parse_args()
    mp.mp.dps = 50
    emax, p, q = fit(args.p_degree, args.q_degree, args.T)
    print("max relative error", mp.nstr(emax, 5))
    for name, c in (("P", p), ("Q", q)):
        print(name, ", ".join(mp.nstr(v, 20) for v in reversed(c)))


if __name__ == "__main__":
    main()
