"""The dashboard at /ui in a real browser (Debian's chromium, headless, driven by playwright) against a
running fleet, API and Redis on the fake Anthropic API."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.fakes.anthropic_api import FakeAnthropicAPI, Reply
from tests.fleet_harness import Fleet, wait_until
from tests.integration.conftest import TOKEN, api_server

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
IMAGES = ROOT / "docs" / "images"
#: refresh the README's screenshots: UPDATE_SCREENSHOTS=1 pytest tests/integration/test_dashboard.py
UPDATE = os.environ.get("UPDATE_SCREENSHOTS") == "1"

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package (CI installs it)")


@pytest.fixture
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        # --no-sandbox: CI runs as root, where chromium's own sandbox will not start
        running = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield running
        finally:
            running.close()


def keep_screenshot(page: object, name: str, tmp_path: Path) -> None:
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)  # type: ignore[attr-defined]
    assert shot.stat().st_size > 20_000, "a blank page is a few kB"
    if UPDATE or not (IMAGES / name).exists():
        IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, IMAGES / name)


@needs_chromium
@pytest.mark.timeout(180)
def test_the_dashboard_follows_a_job_and_a_usage_limit_pause_live(
    fleet: Fleet, fake_api: FakeAnthropicAPI, browser: object, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    fleet.env.update({"CLAUDE_QUOTA_RESET_JITTER": "0", "CLAUDE_PRELOAD_API_ENGINE": "true"})
    fleet.start_workers(2)
    wait_until(lambda: fleet.log_text().count("API engine loaded") == 2, 30, what="the SDK preloads")
    fake_api.always(Reply.success("The dashboard works.", delay=1.5))
    with (
        api_server(fleet, tmp_path) as (url, _),
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as api,
    ):
        page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
        page.goto(f"{url}/ui")
        # the token is required: the page asks for it, and a wrong one is refused
        page.fill("#token", "not-the-token")
        page.click("button[type=submit]")
        expect(page.locator(".problem")).to_contain_text("not this API's token")
        page.fill("#token", TOKEN)
        page.click("button[type=submit]")
        expect(page.locator("#fleet-state")).to_have_text("Ready")
        expect(page.locator("#live")).to_have_text("live")
        expect(page.locator("#workers tbody tr")).to_have_count(2)
        expect(page.locator("#workers tbody")).to_contain_text("healthy")

        # a job submitted through the API appears, runs and finishes without a reload
        job = api.post("/jobs", json={"prompt": "Say that the dashboard works.", "engine": "api"}).json()["id"]
        row = page.locator(f'#jobs tr[data-job="{job}"]')
        expect(row).to_be_visible(timeout=5000)
        expect(row).to_contain_text("finished", timeout=20_000)
        expect(row).to_contain_text("$")  # its cost

        # a usage limit: the pause and its countdown within 2 s of the gate closing, then the resume
        resets_at = int(time.time()) + 12
        fake_api.always(Reply.usage_limit(resets_at, claim="five_hour", lift_at_reset=True))
        walled = api.post("/jobs", json={"prompt": "Meet the wall.", "engine": "api"}).json()["id"]
        wait_until(lambda: fleet.gate().get("state") == "quota_exceeded", 20, interval=0.05, what="the gate to close")
        expect(page.locator("#fleet-state")).to_have_text("Quota Exceeded", timeout=2000)
        expect(page.locator("#fleet-countdown")).to_contain_text("resumes in 0:", timeout=2000)
        first = page.locator("#fleet-countdown").inner_text()
        expect(page.locator("#fleet-countdown")).not_to_have_text(first, timeout=2500)  # it ticks
        expect(page.locator("#fleet-reason")).not_to_be_empty()
        expect(page.locator("#q-waiting")).not_to_have_text("–")
        keep_screenshot(page, "dashboard.png", tmp_path)
        expect(page.locator("#fleet-state")).to_have_text("Ready", timeout=40_000)
        expect(page.locator(f'#jobs tr[data-job="{walled}"]')).to_contain_text("finished", timeout=20_000)

        # the job's page: prompt, options, attempts with their outcomes, result
        page.locator(f'#jobs tr[data-job="{walled}"] a').click()
        expect(page.locator("#job-id")).to_have_text(walled)
        expect(page.locator("#job-prompt")).to_have_text("Meet the wall.")
        expect(page.locator("#job-options")).to_contain_text("engine")
        expect(page.locator("#job-attempts tbody tr")).to_have_count(2)
        expect(page.locator("#job-attempts tbody")).to_contain_text("quota_exceeded")
        expect(page.locator("#job-attempts tbody")).to_contain_text("ok")
        expect(page.locator("#job-result")).to_have_text("OK")  # the fake's answer once the limit lifts
        keep_screenshot(page, "dashboard-job.png", tmp_path)

        # filter by status and search by id prefix
        page.goto(f"{url}/ui#/")
        page.select_option("#job-status", "finished")
        expect(page.locator("#jobs tbody tr")).to_have_count(2)
        page.fill("#job-search", walled[:6])
        expect(page.locator("#jobs tbody tr")).to_have_count(1)
        expect(page.locator("#jobs tbody tr")).to_contain_text(walled[:8])


@needs_chromium
def test_on_a_phone_width_screen_nothing_overflows_sideways(fleet: Fleet, browser: object, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    fleet.start_workers(1)
    fleet.enqueue(1, prompt="A long prompt " * 40)
    with api_server(fleet, tmp_path) as (url, _):
        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)  # type: ignore[attr-defined]
        page = phone.new_page()
        page.goto(f"{url}/ui")
        page.fill("#token", TOKEN)
        page.click("button[type=submit]")
        expect(page.locator("#jobs tbody tr")).to_have_count(1)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width}px wide on a 390px screen"
        keep_screenshot(page, "dashboard-phone.png", tmp_path)


def test_the_dashboard_session_reads_but_never_writes(fleet: Fleet, tmp_path: Path) -> None:
    with api_server(fleet, tmp_path) as (url, _), httpx.Client(base_url=url, timeout=10) as browser_like:
        assert "API token" in browser_like.get("/ui").text  # no session: the sign-in form, not the fleet
        assert browser_like.get("/fleet").status_code == 401
        assert browser_like.post("/ui/login", data={"token": "wrong"}).status_code == 401
        signed_in = browser_like.post("/ui/login", data={"token": TOKEN})
        assert signed_in.status_code == 303
        cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and TOKEN not in cookie
        assert 'id="fleet-state"' in browser_like.get("/ui").text
        assert browser_like.get("/fleet").status_code == 200
        # a cross-site form could ride the cookie: it can change nothing
        assert browser_like.post("/jobs", json={"prompt": "hi"}).status_code == 401
        assert browser_like.delete("/jobs/0123456789abcdef").status_code == 401
        assert browser_like.post("/ui/logout").status_code == 303
        assert browser_like.get("/fleet").status_code == 401


@needs_chromium
def test_a_job_page_shows_what_the_job_changed_and_links_its_kept_workspace(
    fleet: Fleet, fake_api: FakeAnthropicAPI, browser: object, tmp_path: Path, claude_bin: str
) -> None:
    from playwright.sync_api import expect

    with (
        api_server(fleet, tmp_path) as (url, _),
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as api,
    ):
        spec = {"prompt": "write notes", "engine": "cli", "allowed_tools": ["Write"], "permission_mode": "acceptEdits"}
        job = api.post("/jobs", json={**spec, "keep_workspace": True}).json()["id"]
        workspace = Path(fleet.settings_env()["CLAUDE_WORKSPACE_ROOT"]) / "jobs" / job
        fake_api.always(Reply.script(("Write", {"file_path": str(workspace / "notes.md"), "content": "noted\n"})))
        fleet.start_workers(1)
        wait_until(lambda: api.get(f"/jobs/{job}").json()["status"] == "finished", 90, what="the job")
        page = browser.new_page()  # type: ignore[attr-defined]
        page.goto(f"{url}/ui")
        page.fill("#token", TOKEN)
        page.click("button[type=submit]")
        page.goto(f"{url}/ui#/jobs/{job}")
        expect(page.locator("#job-files")).to_contain_text("notes.md")
        expect(page.locator("#job-diff")).to_contain_text("+noted")
        link = page.locator("#job-files-link")
        expect(link).to_be_visible()
        download = page.request.get(f"{url}{link.get_attribute('href')}")  # with the page's session cookie
        assert download.status == 200 and download.headers["content-type"] == "application/x-tar"
