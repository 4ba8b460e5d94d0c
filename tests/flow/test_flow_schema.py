"""The flow schema: JSON Schema export for editors and the node types admins use."""

from __future__ import annotations

import json

from callcenter.flow.nodes import NODE_TYPES
from callcenter.flow.schema import flow_json_schema, flow_json_schema_text


def test_json_schema_covers_every_node_type_and_handler() -> None:
    schema = flow_json_schema()
    text = json.dumps(schema)
    for kind in NODE_TYPES:
        assert f'"const": "{kind}"' in text, kind
    handlers = schema["$defs"]["Handlers"]["properties"]
    assert set(handlers) == {"human_request", "silence", "no_match", "provider_failure",
                             "max_duration"}
    assert schema["required"] == ["name", "start", "nodes"]
    assert schema["properties"]["nodes"]["propertyNames"]["pattern"]


def test_schema_text_is_valid_json_forbidding_unknown_fields() -> None:
    schema = json.loads(flow_json_schema_text())
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["SayNode"]["additionalProperties"] is False
