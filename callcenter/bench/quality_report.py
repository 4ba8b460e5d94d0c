"""The table `callcenter bench quality` prints."""

from __future__ import annotations

from typing import Any

from rich.table import Table

# The first held-out parts were tuned on once later ones were written: labelled as tuning.
_SPLITS = (("tuned", "tuned %"), ("tuned_natural", "tuned natural %"),
           ("heldout", "tuning 2 %"), ("fresh", "tuning 3 %"), ("v3", "held-out v3 %"),
           ("v4", "held-out v4 %"), ("v4_hard", "v4 hard voices %"),
           ("v5", "held-out v5 %"), ("v5_hard", "v5 hard voices %"))
# The parts the "before" columns repeat: the held-out ones (their role says so).


def _f(v: Any) -> str:
    return "-" if v is None else f"{v:g}" if isinstance(v, float | int) else str(v)


def _cost(lat: dict[str, Any]) -> str:
    return f"{_f(lat['endpoint_wait_p50'])}+{_f(lat['stt_p50'])}+{_f(lat['understand_p50'])}"


def _family(res: dict[str, Any], split: str, family: str) -> str:
    return _f(res.get(split, {}).get("families", {}).get(family, {}).get("overall_pct"))


def quality_table(result: dict[str, Any]) -> Table:
    """Accuracy per category for every part, side by side with the baseline code's held-out
    figures when it was run; then people, voice families (natural / eSpeak) and latency."""
    base = result.get("baseline")
    splits = [(k, label) for k, label in _SPLITS if k in result]
    title = f"callcenter bench quality ({result['lines']} lines, code {result['code']}"
    t = Table(title=title + (f"; before = code {base['code']})" if base else ")"))
    held = [(k, label) for k, label in splits
            if str(result[k].get("role", "")).startswith("held-out")]
    cols = ["category", *(label for _, label in splits), "cut-offs"]
    if base:
        cols += [f"{label} before" for _, label in held] + ["cut-offs before"]
    for col in cols:
        t.add_column(col, justify="left" if col == "category" else "right")

    def cats(res: dict[str, Any], split: str, cat: str) -> dict[str, Any]:
        cat_row: dict[str, Any] = res.get(split, {}).get("categories", {}).get(cat, {})
        return cat_row

    def cuts(res: dict[str, Any], cat: str) -> str:
        return "/".join(_f(cats(res, k, cat).get("cut_offs")) for k, _ in splits)

    for cat in result["tuned"]["categories"]:
        cells = [cat, *(_f(cats(result, k, cat).get("accuracy_pct")) for k, _ in splits),
                 cuts(result, cat)]
        if base:
            cells += [_f(cats(base, k, cat).get("accuracy_pct")) for k, _ in held]
            cells.append(cuts(base, cat))
        t.add_row(*cells)
    for label, key in (("overall", "overall_pct"), ("human recall", "human_recall_pct"),
                       ("false escalations", "false_escalation_pct")):
        cells = [label, *(_f(result[k].get(key)) for k, _ in splits), ""]
        if base:
            cells += [_f(base.get(k, {}).get(key)) for k, _ in held] + [""]
        t.add_row(*cells)
    for family in ("natural", "hard"):
        cells = [f"{family} voices", *(_family(result, k, family) for k, _ in splits), ""]
        if base:
            cells += [_family(base, k, family) for k, _ in held] + [""]
        t.add_row(*cells)
    cost = ["turn cost p50 ms (endpoint+stt+understand)", _cost(result["latency_ms_per_turn"])]
    cost += [""] * (len(splits) - 1) + [""]
    if base:
        cost += [_cost(base["latency_ms_per_turn"])] + [""] * len(held)
    t.add_row(*cost)
    return t
