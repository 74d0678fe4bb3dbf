"""The webhook routes answer what /openapi.json documents (the gateway's conformance test leaves
them to this module: they need a system whose webhooks may reach the receiver on 127.0.0.1)."""

from __future__ import annotations

from tests.gateway.test_openapi_conformance import Contract
from tests.support.system import System, User
from tests.webhooks.receiver import Receiver

WEBHOOK_ROUTES = "/api/v1/webhooks"


def test_every_webhook_route_answers_what_its_schema_documents(
    hooked: System, carol: User, dave: User, receiver: Receiver
) -> None:
    with hooked.anonymous() as http:
        contract = Contract(http.get("/openapi.json").json())
    c = contract.check
    body = {"url": receiver.url("/conformance"), "events": ["prompt.created"], "description": "docs"}
    hook = c(carol, "POST", "/api/v1/webhooks", expect=201, json=body)
    ids = {"webhook_id": hook["id"]}
    c(carol, "POST", "/api/v1/webhooks", expect=400, json={**body, "url": "gopher://x"})
    c(carol, "GET", "/api/v1/webhooks", expect=200)
    c(carol, "GET", "/api/v1/webhooks/{webhook_id}", expect=200, path=ids)
    c(dave, "GET", "/api/v1/webhooks/{webhook_id}", expect=404, path=ids)
    c(carol, "POST", "/api/v1/webhooks/{webhook_id}/test", expect=200, path=ids)
    c(carol, "GET", "/api/v1/webhooks/{webhook_id}/deliveries", expect=200, path=ids)
    c(carol, "DELETE", "/api/v1/webhooks/{webhook_id}", expect=204, path=ids)
    routes = {r for r in contract.json_routes() if r[1].startswith(WEBHOOK_ROUTES)}
    assert len(routes) == 5 and routes <= contract.checked, sorted(routes - contract.checked)
