"""Measures of how well a score ranks what happened later (the potential-v2 backtest,
`crm_insights.adapters.backtest`). Pure."""

from __future__ import annotations

from collections.abc import Sequence


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    result = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            result[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return result


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rank correlation (Pearson over tie-averaged ranks); None if either side is
    constant or there are fewer than three pairs."""
    if len(xs) != len(ys) or len(xs) < 3:
        return None
    rx, ry = ranks(xs), ranks(ys)
    n = len(xs)
    mx, my = sum(rx) / n, sum(ry) / n
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    if vx == 0 or vy == 0:
        return None
    return float(cov / (vx * vy) ** 0.5)


def auc(scores: Sequence[float], positives: Sequence[bool]) -> float | None:
    """The probability that a random positive outscores a random negative (ties count half);
    None without both classes."""
    pos = [s for s, p in zip(scores, positives, strict=True) if p]
    neg = [s for s, p in zip(scores, positives, strict=True) if not p]
    if not pos or not neg:
        return None
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


def top_share_lift(
    scores: Sequence[float], outcomes: Sequence[float], share: float
) -> float | None:
    """Share of the total outcome captured by the top ``share`` of customers by score, divided
    by ``share`` (1.0 = no better than chance); None when the outcome sums to 0."""
    total = sum(outcomes)
    if total <= 0 or not scores:
        return None
    n = max(1, round(len(scores) * share))
    top = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:n]
    return (sum(outcomes[i] for i in top) / total) / (n / len(scores))
