"""A suggestion's payload written into a flow's YAML text, then validated as a whole flow."""

from __future__ import annotations

from typing import Any

import yaml

from callcenter.flow.nodes import HangupNode
from callcenter.flow.schema import Flow
from callcenter.flow.validate import load_flow
from callcenter.learning.handlers import HANDLER, built_in_phrases
from callcenter.learning.privacy import scrub
from callcenter.learning.text import normalize
from callcenter.learning.yamledit import YamlEditError, add_key, append_items, has_path
from callcenter.models import SuggestionKind


def apply_suggestion(yaml_text: str, kind: str, target: str, payload: dict[str, Any]) -> str:
    """The flow text with the change in it; FlowValidationError if the result is not valid."""
    if kind == SuggestionKind.HANDLER:
        text = _handler(yaml_text, payload)
        load_flow(text, f"{target} ({kind})")
        return text
    node = str(payload.get("node", ""))
    base = ("nodes", node)
    if not has_path(yaml_text, base):
        raise YamlEditError(f"the flow has no node {node!r} any more")
    if kind == SuggestionKind.PHRASES:
        text = _phrases(yaml_text, base, target, [scrub(str(p)) for p in payload["phrases"]])
    elif kind == SuggestionKind.KNOWLEDGE:
        item = {"q": scrub(str(payload["q"])), "a": scrub(str(payload["a"]))}
        text = (append_items(yaml_text, (*base, "knowledge"), [item])
                if has_path(yaml_text, (*base, "knowledge"))
                else add_key(yaml_text, base, "knowledge", [item]))
    elif kind == SuggestionKind.ROUTE:
        text = _route(yaml_text, base, payload)
    else:
        raise YamlEditError(f"unknown suggestion kind {kind!r}")
    load_flow(text, f"{node} ({kind})")
    return text


def _phrases(text: str, base: tuple[Any, ...], target: str, phrases: list[str]) -> str:
    part = target.split(".")
    if len(part) != 3 or part[1] not in ("options", "intents"):
        raise YamlEditError(f"cannot add phrases to {target!r}")
    if part[1] == "options":
        path: tuple[Any, ...] = (*base, "options", int(part[2]))
        field = "phrases"
    else:
        intents = yaml.safe_load(text)["nodes"][base[1]].get("intents") or []
        index = next((i for i, it in enumerate(intents) if it.get("name") == part[2]), None)
        if index is None:
            raise YamlEditError(f"node {base[1]!r} has no intent {part[2]!r} any more")
        path, field = (*base, "intents", index), "examples"
    if has_path(text, (*path, field)):
        return append_items(text, (*path, field), phrases)
    return add_key(text, path, field, phrases)


def _route(text: str, base: tuple[Any, ...], payload: dict[str, Any]) -> str:
    flow = load_flow(text)
    name = str(payload["name"])
    if name in flow.nodes:
        raise YamlEditError(f"the flow already has a node named {name!r}; pick another name")
    goes_on = payload.get("next") or _a_hangup(flow)
    option = {"phrases": [scrub(str(p)) for p in payload["phrases"]], "goto": name}
    text = append_items(text, (*base, "options"), [option])
    node = {"type": "say", "text": scrub(str(payload["say"])), "next": goes_on}
    return add_key(text, ("nodes",), name, node, blank_line=True)


def _a_hangup(flow: Flow) -> str:
    name = next((n for n, node in flow.nodes.items() if isinstance(node, HangupNode)), None)
    if name is None:
        raise YamlEditError("a new route needs a `next`: the flow has no hangup node to end on")
    return name


def _handler(text: str, payload: dict[str, Any]) -> str:
    """More phrases for `handlers.human_request`, or the handler itself when the flow has none."""
    name = str(payload.get("handler", ""))
    if name != HANDLER:
        raise YamlEditError(f"cannot add phrases to the {name!r} handler; only {HANDLER} has them")
    data = yaml.safe_load(text) or {}
    existing = data.get("handlers")
    have = {normalize(p) for p in _current_phrases(existing)}
    phrases = [p for p in dict.fromkeys(scrub(str(p)) for p in payload.get("phrases") or [])
               if normalize(p) and normalize(p) not in have]
    if not phrases:
        raise YamlEditError("every phrase is already one of the handler's; nothing to add")
    path = ("handlers", HANDLER)
    if isinstance(existing, dict) and isinstance(existing.get(HANDLER), dict):
        if has_path(text, (*path, "phrases")):
            return append_items(text, (*path, "phrases"), phrases)
        # Without `phrases` the handler uses the built-in ones: keep them beside the new ones.
        return add_key(text, path, "phrases", [*built_in_phrases(), *phrases])
    goto = str(payload.get("goto") or "")
    if not goto:
        raise YamlEditError(f"the flow has no {HANDLER} handler: say which node it goes to")
    entry = {"goto": goto, "phrases": [*built_in_phrases(), *phrases]}
    if isinstance(existing, dict) and existing:
        return add_key(text, ("handlers",), HANDLER, entry)
    if "handlers" in data:
        raise YamlEditError("the flow's `handlers:` is empty; write the handler in by hand")
    return add_key(text, (), "handlers", {HANDLER: entry}, blank_line=True)


def _current_phrases(existing: Any) -> list[str]:
    entry = existing.get(HANDLER) if isinstance(existing, dict) else None
    if not isinstance(entry, dict):
        return []
    phrases = entry.get("phrases")
    return [str(p) for p in phrases] if isinstance(phrases, list) else built_in_phrases()
