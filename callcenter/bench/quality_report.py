"""The table `callcenter bench quality` prints."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def _f(v: Any) -> str:
    return "-" if v is None else f"{v:g}" if isinstance(v, float | int) else str(v)


def quality_table(result: dict[str, Any]) -> Table:
    """Accuracy per category, tuned and held-out side by side; then people and latency."""
    t = Table(title=f"callcenter bench quality ({result['lines']} lines, code {result['code']})")
    for col in ("category", "tuned %", "held-out %", "cut-offs (t/h)"):
        t.add_column(col, justify="left" if col == "category" else "right")
    tuned, held = result["tuned"], result["heldout"]
    for cat, row in tuned["categories"].items():
        h = held["categories"].get(cat, {})
        t.add_row(cat, _f(row["accuracy_pct"]), _f(h.get("accuracy_pct")),
                  f"{row['cut_offs']}/{h.get('cut_offs', '-')}")
    t.add_row("overall", _f(tuned["overall_pct"]), _f(held["overall_pct"]), "")
    t.add_row("human recall", _f(tuned["human_recall_pct"]), _f(held["human_recall_pct"]), "")
    t.add_row("false escalations", _f(tuned["false_escalation_pct"]),
              _f(held["false_escalation_pct"]), "")
    lat = result["latency_ms_per_turn"]
    t.add_row("turn cost p50 ms (endpoint+stt+understand)",
              f"{_f(lat['endpoint_wait_p50'])}+{_f(lat['stt_p50'])}+{_f(lat['understand_p50'])}",
              "", "")
    return t
