"""Headless Debian Chromium driven by Playwright, shared by the report and UI tests.

Nothing is installed at test time: ``.ci/run`` installs Debian's chromium; without it the
browser tests skip with the reason.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("Debian chromium not installed (.ci/run installs it)")
    return path


@contextmanager
def browser_page(width: int = 1400, height: int = 900) -> Iterator[object]:
    """A fresh page in a headless Chromium that is closed (with its processes) afterwards."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()
