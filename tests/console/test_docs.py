"""The interactive API docs work with no network and under the console's Content-Security-Policy."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import Route

from gateway.app import create_app
from gateway.routes.console import CONTENT_SECURITY_POLICY
from services.common.settings import Settings
from tests.console.conftest import Console, needs_chromium
from tests.support.system import System


def offline(console: Console) -> list[str]:
    """Aborts every request that leaves 127.0.0.1, as on a machine with no network; returns their URLs."""
    refused: list[str] = []

    def only_local(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    console.page.context.route("**/*", only_local)
    return refused


def test_docs_pages_and_their_assets_carry_the_console_policy(system: System) -> None:
    http = system.anonymous()
    for path in ("/docs", "/redoc"):
        page = http.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), path
        assert "<script>" not in page.text and "://" not in page.text, (
            path
        )  # no inline script, no other origin
        directives = page.headers["content-security-policy"].split("; ")
        assert "script-src 'self'" in directives and "default-src 'none'" in directives, path
    assert http.get("/docs").headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-init.js", "redoc.standalone.js"):
        asset = http.get(f"/docs/assets/{name}")
        assert asset.status_code == 200, name
        assert asset.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, name
    for missing in ("/docs/assets/nothing.js", "/docs/assets/swagger.html", "/docs/assets/%2e%2e%2fapp.py"):
        assert http.get(missing).status_code == 404, missing
    assert not [p for p in http.get("/openapi.json").json()["paths"] if p.startswith(("/docs", "/redoc"))]


@needs_chromium
def test_swagger_ui_lists_the_operations_with_no_network(console: Console) -> None:
    refused = offline(console)
    console.page.goto(f"{console.system.url}/docs")
    console.page.wait_for_selector(".opblock-summary-path[data-path='/api/v1/prompts']")
    assert console.page.locator(".opblock").count() >= 40
    assert console.page.get_by_role("button", name="Authorize").count() >= 1
    console.screenshot("docs-swagger")
    assert refused == []
    assert console.errors == []  # a Content-Security-Policy violation is a console error


@needs_chromium
def test_redoc_lists_the_operations_with_no_network(console: Console) -> None:
    refused = offline(console)
    console.page.goto(f"{console.system.url}/redoc")
    console.page.get_by_role("heading", name="Create Prompt").wait_for()
    assert console.page.locator("[data-section-id*='/operation/']").count() >= 40
    console.screenshot("docs-redoc")
    assert refused == []
    # ReDoc's footer names its maker with a logo from the maker's site, which the policy blocks.
    assert [e for e in console.errors if "cdn.redoc.ly/redoc/logo-mini.svg" not in e] == []


def test_the_schema_names_the_values_and_rules_a_client_generator_needs() -> None:
    schemas = create_app(Settings(jwt_secret="s" * 32)).openapi()["components"]["schemas"]
    for model in ("FeedbackIn", "FeedbackOut"):
        fields = schemas[model]["properties"]
        assert fields["user_choice"]["enum"] == ["original", "single", "multi"], model
        assert "must be `none` when `user_choice` is `original`" in fields["agent_winner"]["description"]
    assert "Derived" in schemas["FeedbackOut"]["properties"]["judge_correct"]["description"]
    for model in ("SecurityScanIn", "SecurityScanOut"):
        assert schemas[model]["properties"]["label"]["enum"] == ["safe", "suspicious", "malicious"], model
    export = schemas["ExportIn"]["properties"]
    options = export["options"]["properties"]
    assert options["csv_mode"]["enum"] == ["safe", "raw"] and options["csv_mode"]["default"] == "safe"
    assert options["include_workflow"]["default"] is True and options["all_users"]["default"] is False
    for dataset in ("multi-agent", "temporal", "feedback", "effectiveness", "all"):
        assert dataset in export["source"]["description"], dataset
    for fmt in ("json", "yaml", "markdown", "text", "csv", "xlsx", "pdf", "docx", "zip"):
        assert fmt in export["format"]["description"], fmt
