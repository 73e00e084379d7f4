"""Holds the dashboard at /ui open in headless Chromium (Debian's, through
Playwright for Python) for SECONDS, then saves a screenshot of its
overview to PNG (if given). Used by scripts/bench-dashboard.sh to measure
what an open dashboard costs, and to take the README's screenshot.

    python3 scripts/dashboard-open.py BASE_URL TOKEN SECONDS [PNG]
"""

import sys

from playwright.sync_api import sync_playwright

base, token, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
png = sys.argv[4] if len(sys.argv) > 4 else None
flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=flags)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{base}/ui#token={token}")
    page.wait_for_selector("#overview:not([hidden])")
    page.wait_for_timeout(seconds * 1000)
    if png:
        page.screenshot(path=png, full_page=True)
    browser.close()
