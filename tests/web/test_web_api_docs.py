"""The OpenAPI description lists the flows, numbers and calls API the pages are built on."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_openapi_lists_flows_numbers_and_calls(admin_client: TestClient) -> None:
    paths = admin_client.get("/api/v1/openapi.json").json()["paths"]
    expected = {
        "/api/v1/flows/validate": {"post"},
        "/api/v1/flows": {"get"},
        "/api/v1/flows/drafts": {"post"},
        "/api/v1/flows/{name}": {"get"},
        "/api/v1/flows/{name}/drafts": {"post"},
        "/api/v1/flows/{name}/versions/{version}": {"get"},
        "/api/v1/flows/{name}/versions/{version}/publish": {"post"},
        "/api/v1/flows/{name}/versions/{version}/rollback": {"post"},
        "/api/v1/flows/{name}/diff": {"get"},
        "/api/v1/numbers": {"get"},
        "/api/v1/numbers/{number}": {"put", "delete"},
        "/api/v1/calls": {"get"},
        "/api/v1/calls/{call_id}": {"get"},
        "/api/v1/calls/{call_id}/transcript": {"get"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), path
    params = {p["name"] for p in paths["/api/v1/calls"]["get"]["parameters"]}
    assert {"since", "until", "dialed", "caller", "status", "disposition", "escalated", "flow",
            "version", "page", "per_page"} <= params
