"""The dashboard served by ``streamlit run`` and driven through every page by headless Chromium (Playwright).

Debian's ``chromium`` at /usr/bin/chromium (CI's ``.ci/run`` installs it; elsewhere the test skips); Playwright's
Python package drives it (no browser download). A screenshot of each page is saved under the folder the
test prints (``$TWIN_SCREENSHOTS_DIR`` when set, else the test's tmp_path/screenshots).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from dashtest import REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NAV = [  # (url path, title in the sidebar and the page's h1)
    ("overview", "Overview"),
    ("cell", "Cell & replay"),
    ("quality", "Quality"),
    ("cost", "Cost"),
    ("carbon", "Carbon"),
    ("scenarios", "Scenarios"),
]
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def chromium(system_program) -> Path:
    """Debian's chromium, or a skip (a failure under CELLTWIN_REQUIRE_SYSTEM=1) before the app is built."""
    return system_program(str(CHROMIUM), "`apt-get install chromium`; CI's .ci/run does; no browser is downloaded")


@pytest.fixture
def served_app(demo_warehouse, tmp_path):
    """``streamlit run apps/dashboard.py`` (the command ``twin dashboard`` runs) on a free port; killed at the end."""
    from twin.api.dashboard import app_environment, streamlit_command

    port = free_port()
    cmd = [*streamlit_command(port), "--server.fileWatcherType", "none"]
    log_path = tmp_path / "streamlit.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            cmd,
            env=app_environment(demo_warehouse, [REPO / "assets" / "cells" / "microfactory-v2.yaml"]),
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit not ready after 90 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


def wait_ready(page, title: str) -> None:
    """The page's h1 is there and the script run is over (the status widget's 'running' state is gone)."""
    page.locator("h1", has_text=title).first.wait_for(timeout=90_000)
    deadline = time.monotonic() + 90
    while page.locator('[data-testid="stStatusWidget"]').count() and time.monotonic() < deadline:
        time.sleep(0.2)
    page.wait_for_timeout(1500)  # plotly draws after the run


def screenshot(page, path: Path) -> None:
    """The whole page: the viewport grown to the main container's height (Streamlit scrolls inside it)."""
    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight || 1000")
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": min(max(int(height) + 40, 1000), 12000)})
    page.wait_for_timeout(800)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)


@pytest.mark.browser
def test_every_page_in_headless_chromium(chromium, served_app, tmp_path, capsys):
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("TWIN_SCREENSHOTS_DIR") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    with capsys.disabled():  # shown even when pytest captures output
        print(f"\nscreenshots of the dashboard pages: {shots}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.goto(f"{served_app}/", wait_until="domcontentloaded")
            wait_ready(page, "Overview")
            # a factory's dashboard is for viewers: no "Deploy" button (client.toolbarMode viewer)
            assert page.locator('[data-testid="stAppDeployButton"]').count() == 0
            assert page.get_by_role("button", name="Deploy").count() == 0
            for slug, title in NAV:
                if slug != "overview":  # navigate as a user does: the sidebar's links (same session)
                    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
                    wait_ready(page, title)
                    assert page.url.rstrip("/").endswith(f"/{slug}"), page.url
                errors = page.locator(ERRORS)
                assert errors.count() == 0, f"{title}: {errors.first.inner_text()[:2000]}"
                assert page.locator("h1", has_text=title).count() >= 1
                screenshot(page, shots / f"{slug}.png")
            # a filter chosen on one page is still chosen on the next
            variant = page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Variant")
            variant.click()
            page.get_by_role("option", name="B8-ALU").first.click()
            wait_ready(page, "Scenarios")
            page.locator('[data-testid="stSidebarNav"] a', has_text="Overview").first.click()
            wait_ready(page, "Overview")
            assert variant.input_value() == "B8-ALU"
            assert page.get_by_text("B8-ALU · whole cell").count() >= 1
            assert page.locator(ERRORS).count() == 0
            screenshot(page, shots / "overview_B8-ALU.png")
        finally:
            browser.close()
    assert sorted(f.name for f in shots.glob("*.png")) == sorted([f"{s}.png" for s, _ in NAV] + ["overview_B8-ALU.png"])
