"""Where a flow's scenarios live: `<SCENARIOS_DIR>/<flow name>/*.yaml`.

The folder may also hold `webhooks.yaml`: canned answers for the flow's webhooks (the
format `callcenter chat --webhooks` takes), used by its scenarios and by try-it. Without
it, a webhook in a scenario or in try-it fails (no request leaves the server).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from callcenter.config import Settings
from callcenter.scenarios.format import Scenario, ScenarioProblem, parse_scenario

EXAMPLES = Path(__file__).resolve().parents[2] / "flows" / "scenarios"
WEBHOOKS_FILE = "webhooks.yaml"
MAX_FILES = 100
# A flow name as the flow schema allows it; anything else never becomes a path.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True, slots=True)
class ScenarioFile:
    """One file of a flow's scenarios: parsed, or its problems."""

    name: str
    path: Path
    text: str
    scenario: Scenario | None
    problems: tuple[ScenarioProblem, ...] = ()


def scenarios_dir(settings: Settings) -> Path:
    return settings.scenarios_dir if settings.scenarios_dir is not None else EXAMPLES


def flow_folder(root: Path, flow_name: str) -> Path | None:
    """The flow's folder under `root`, or None for a name that cannot be one (`../x`)."""
    if not _SAFE_NAME.match(flow_name) or flow_name.startswith(".."):
        return None
    return root / flow_name


def webhooks_file(root: Path, flow_name: str) -> Path | None:
    folder = flow_folder(root, flow_name)
    path = folder / WEBHOOKS_FILE if folder is not None else None
    return path if path is not None and path.is_file() else None


def _paths(root: Path, flow_name: str) -> list[Path]:
    folder = flow_folder(root, flow_name)
    if folder is None or not folder.is_dir():
        return []
    return [p for p in sorted(folder.glob("*.yaml"))[:MAX_FILES]
            if p.name != WEBHOOKS_FILE and p.is_file()]


def count_scenarios(root: Path, flow_name: str) -> int:
    """How many scenario files `flow_name` has (without reading them: the flow page)."""
    return len(_paths(root, flow_name))


def load_scenarios(root: Path, flow_name: str) -> list[ScenarioFile]:
    """Every scenario file of `flow_name`, sorted by name; unreadable ones carry problems."""
    found = []
    for path in _paths(root, flow_name):
        shown = f"{flow_name}/{path.name}"
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            found.append(ScenarioFile(path.stem, path, "", None, (ScenarioProblem(
                shown, 1, 1, f"cannot read the file: {exc}", "save it as UTF-8 text"),)))
            continue
        scenario, problems = parse_scenario(text, shown, path.stem)
        found.append(ScenarioFile(path.stem, path, text, scenario, tuple(problems)))
    return found
