"""The intervals by their published formulas, written apart from the code they check."""

from __future__ import annotations

import math

Z = 1.959963984540054  # the two-sided 95% normal quantile (scipy.stats.norm.ppf(0.975))


def wilson_by_formula(k: int, n: int) -> list[float]:
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return [centre - half, centre + half]


def newcombe_by_formula(k_b: int, n_b: int, k_a: int, n_a: int) -> list[float]:
    """Newcombe's hybrid score interval (method 10 of Newcombe 1998) of p_b - p_a."""
    pb, pa = k_b / n_b, k_a / n_a
    (lb, ub), (la, ua) = wilson_by_formula(k_b, n_b), wilson_by_formula(k_a, n_a)
    d = pb - pa
    return [
        d - math.sqrt((pb - lb) ** 2 + (ua - pa) ** 2),
        d + math.sqrt((ub - pb) ** 2 + (pa - la) ** 2),
    ]


def cohen_kappa_by_formula(left: list[str], right: list[str]) -> float:
    """(p_o - p_e) / (1 - p_e), p_e from each rater's own marginals (Cohen 1960)."""
    n = len(left)
    categories = set(left) | set(right)
    observed = sum(a == b for a, b in zip(left, right, strict=True)) / n
    expected = sum((left.count(c) / n) * (right.count(c) / n) for c in categories)
    return (observed - expected) / (1 - expected)


def krippendorff_alpha_nominal(rows: list[tuple[str | None, ...]]) -> float:
    """1 - D_o / D_e from the coincidence matrix (Krippendorff 2011, "Computing Krippendorff's
    alpha-reliability"); a unit with fewer than two values is not pairable."""
    from collections import Counter
    from itertools import permutations

    coincidences: Counter = Counter()
    for row in rows:
        values = [v for v in row if v is not None]
        m = len(values)
        if m < 2:
            continue
        for a, b in permutations(values, 2):
            coincidences[(a, b)] += 1 / (m - 1)
    totals: Counter = Counter()
    for (a, _), weight in coincidences.items():
        totals[a] += weight
    n = sum(totals.values())
    disagree = sum(w for (a, b), w in coincidences.items() if a != b)
    expected = sum(totals[a] * totals[b] for a in totals for b in totals if a != b) / (n - 1)
    return 1 - disagree / expected


def fleiss_kappa_by_formula(rows: list[list[str]]) -> float:
    """Fleiss (1971): (P - P_e) / (1 - P_e) over records each answered by the same n people."""
    categories = sorted({v for row in rows for v in row})
    n, records = len(rows[0]), len(rows)
    counts = [[row.count(c) for c in categories] for row in rows]
    agreement = sum((sum(x * x for x in r) - n) / (n * (n - 1)) for r in counts) / records
    shares = [sum(r[j] for r in counts) / (records * n) for j in range(len(categories))]
    chance = sum(p * p for p in shares)
    return (agreement - chance) / (1 - chance)


def cohen_kappa_se(left: list[str], right: list[str]) -> float:
    """The large-sample standard error of Cohen's kappa (Fleiss, Cohen & Everitt 1969)."""
    n = len(left)
    categories = sorted(set(left) | set(right))
    p = {(a, b): 0.0 for a in categories for b in categories}
    for a, b in zip(left, right, strict=True):
        p[(a, b)] += 1 / n
    row = {c: sum(p[(c, b)] for b in categories) for c in categories}
    col = {c: sum(p[(a, c)] for a in categories) for c in categories}
    po = sum(p[(c, c)] for c in categories)
    pe = sum(row[c] * col[c] for c in categories)
    diagonal = sum(p[(c, c)] * ((1 - pe) - (row[c] + col[c]) * (1 - po)) ** 2 for c in categories)
    off = (1 - po) ** 2 * sum(
        p[(a, b)] * (col[a] + row[b]) ** 2 for a in categories for b in categories if a != b
    )
    variance = (diagonal + off - (po * pe - 2 * pe + po) ** 2) / (n * (1 - pe) ** 4)
    return math.sqrt(variance)
