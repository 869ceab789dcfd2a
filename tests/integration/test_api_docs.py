"""The API's documentation: served from the package (no CDN), typed, described, and rendered by a real browser."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT
from tests.fleet_harness import Fleet
from tests.integration.conftest import api_server

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT = ROOT / "docs" / "images" / "api-docs.png"


def _assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


def test_docs_pages_load_every_asset_from_the_api_itself(fleet: Fleet, tmp_path: Path) -> None:
    with api_server(fleet, tmp_path) as (url, _), httpx.Client(base_url=url, timeout=10) as client:
        for page in ("/docs", "/redoc"):
            html = client.get(page).text
            assets = _assets(html)
            assert assets, html
            for asset in assets:
                assert asset.startswith("/docs-assets/"), f"{page} loads {asset} from elsewhere"
                answer = client.get(asset)
                assert answer.status_code == 200 and len(answer.content) > 1000, asset
            assert "fonts.googleapis" not in html and "cdn" not in html.lower()


def test_the_openapi_document_is_typed_described_and_has_a_bearer_scheme(fleet: Fleet, tmp_path: Path) -> None:
    with api_server(fleet, tmp_path) as (url, _):
        doc: dict[str, Any] = httpx.get(f"{url}/openapi.json", timeout=10).json()
    undescribed = [
        f"{name}.{field}"
        for name, schema in doc["components"]["schemas"].items()
        for field, spec in schema.get("properties", {}).items()
        if not spec.get("description")
    ]
    assert not undescribed
    assert doc["components"]["securitySchemes"]["token"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["token"]["description"],
    }
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            assert operation["security"] == [{"token": []}], f"{method} {path}"
            ok = operation["responses"].get("200") or operation["responses"]["201"]
            content = ok["content"]
            if "application/json" not in content:  # JSON lines, server-sent events, a tar: streams, described
                assert (
                    set(content) <= {"application/x-ndjson", "text/event-stream", "application/x-tar"}
                    and ok["description"]
                )
                continue
            schema = content["application/json"]["schema"]
            assert schema != {} and "additionalProperties" not in schema, f"{method} {path} answers an untyped object"
    job = doc["components"]["schemas"]["JobView"]["properties"]
    assert {"id", "status", "attempts", "result", "error", "next_attempt_at"} <= set(job)


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package (CI installs it)")
def test_swagger_ui_renders_offline_in_a_real_browser(fleet: Fleet, tmp_path: Path) -> None:
    with api_server(fleet, tmp_path) as (url, _):
        offline = [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'chromium'}",
            # every name but this machine resolves to nothing: a CDN asset would fail to load
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=15000",
        ]
        dom = subprocess.run([*offline, "--dump-dom", f"{url}/docs"], capture_output=True, text=True, timeout=90).stdout
        # Swagger UI draws one block per operation and an Authorize button for the bearer scheme
        assert dom.count('class="opblock ') >= 9, dom[:2000]
        assert "authorize" in dom.lower()
        for path in ("/jobs/{job_id}", "/batches/{batch_id}/results", "/fleet"):
            assert path.replace("{", "").replace("}", "") in dom.replace("{", "").replace("}", "").replace("\u200b", "")
        shot = tmp_path / "api-docs.png"
        subprocess.run(
            [*offline, "--hide-scrollbars", "--window-size=1280,1400", f"--screenshot={shot}", f"{url}/docs"],
            capture_output=True,
            timeout=90,
        )
        assert shot.stat().st_size > 20_000  # a blank page is a few kB
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        if not SCREENSHOT.exists():  # kept in docs/images; refreshed by deleting it and running this test
            shutil.copy(shot, SCREENSHOT)
