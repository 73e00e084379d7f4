"""The dashboard at /ui in headless Chromium (Debian's, driven by
Playwright for Python): it loads, signs in with a key, and shows tasks
submitted through the API after it opened: the counters, the task list
(filtered by status and by function) and a task's page with its logs.
Run by tests/tests/dashboard.rs, which starts the platform and registers
the function; screenshots go to OUT_DIR.

    python3 dashboard.py BASE_URL TOKEN FUNCTION_ID OTHER_FUNCTION_ID OUT_DIR
"""

import json
import os
import sys
import urllib.request

from playwright.sync_api import expect, sync_playwright

CHROMIUM = os.environ.get("FAAS_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags, Chromium keeps trying to reach
# Google's hosts, which a closed network refuses.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# How long a live figure may take to show what the store counted.
LIVE = 30_000

base, token, function_id, other_id, out_dir = sys.argv[1:6]
os.makedirs(out_dir, exist_ok=True)


def call(method, path, body=None):
    request = urllib.request.Request(
        base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def submit(function, payloads):
    reply = call("POST", "/execute_batch", {"function_id": function, "payloads": payloads})
    return reply["task_ids"]


with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    # A 401 is how the page learns it needs a key: not a problem.
    page.on(
        "console",
        lambda m: m.type == "error"
        and "status of 401" not in m.text
        and problems.append(f"console: {m.text}"),
    )

    # Without a key: the sign-in form, and no data.
    page.goto(base + "/ui")
    expect(page.locator("#sign-in")).to_be_visible()
    expect(page.locator("#overview")).to_be_hidden()
    page.fill("#key", token)
    page.click("#key-form button")
    expect(page.locator("#overview")).to_be_visible()
    expect(page.locator("#who")).to_contain_text("admin")
    expect(page.locator("#totals")).to_have_attribute("data-submitted", "0")
    assert "faas_" not in page.url, "the key must not show in the address"

    # Tasks submitted now show up by themselves: 12 that complete and 3
    # that fail (the command exits 3 on a payload starting with "!").
    ok = submit(function_id, [f"task {i}" for i in range(12)])
    failed = submit(function_id, ["!"] * 3)
    other = submit(other_id, ["other"])
    expect(page.locator("#totals")).to_have_attribute("data-submitted", "16", timeout=LIVE)
    expect(page.locator("#totals")).to_have_attribute("data-completed", "13", timeout=LIVE)
    expect(page.locator("#totals")).to_have_attribute("data-failed", "3", timeout=LIVE)
    expect(page.locator("#latency")).not_to_have_text("- / - / -", timeout=LIVE)
    page.wait_for_timeout(1500)  # a chart redraw with the last second in
    page.screenshot(path=os.path.join(out_dir, "overview.png"), full_page=True)

    # The functions, with their counts.
    page.click("nav a[data-view=functions]")
    row = page.locator(f"#function-list tr[data-function-id='{function_id}']")
    expect(row).to_be_visible()
    expect(row.locator("td").nth(2)).to_have_text("wasi_command")
    expect(row.locator("td").nth(6)).to_have_text("15", timeout=LIVE)
    expect(row.locator("td").nth(7)).to_have_text("3", timeout=LIVE)

    # The task list: every task, then filtered by status and by function.
    page.click("nav a[data-view=tasks]")
    for task in ok + failed + other:
        expect(page.locator(f"#task-list tr[data-task-id='{task}']")).to_be_visible(timeout=LIVE)
    page.select_option("#filter-status", "FAILED")
    expect(page.locator("#task-list tbody tr")).to_have_count(3, timeout=LIVE)
    for task in failed:
        expect(page.locator(f"#task-list tr[data-task-id='{task}']")).to_be_visible()
    page.select_option("#filter-status", "")
    page.select_option("#filter-function", other_id)
    expect(page.locator("#task-list tbody tr")).to_have_count(1, timeout=LIVE)
    expect(page.locator(f"#task-list tr[data-task-id='{other[0]}']")).to_be_visible()
    page.select_option("#filter-function", "")
    expect(page.locator("#task-list tbody tr")).to_have_count(16, timeout=LIVE)
    page.screenshot(path=os.path.join(out_dir, "tasks.png"), full_page=True)

    # A task's page: payload, result, usage and its log.
    page.click(f"#task-list tr[data-task-id='{ok[0]}'] a")
    expect(page.locator("#task")).to_be_visible()
    expect(page.locator("#task-id")).to_have_text(ok[0])
    expect(page.locator("#task-fields")).to_have_attribute("data-status", "COMPLETED")
    expect(page.locator("#task-payload")).to_have_text('"task 0"')
    expect(page.locator("#task-result")).to_have_text('"result\\n"')
    expect(page.locator("#task-logs")).to_have_text("a log line\n")
    expect(page.locator("dd[data-field='ran on']")).to_contain_text("slot")
    page.screenshot(path=os.path.join(out_dir, "task.png"), full_page=True)

    # A failed one keeps its log too.
    page.goto(f"{base}/ui#/tasks/{failed[0]}")
    expect(page.locator("#task-fields")).to_have_attribute("data-status", "FAILED")
    expect(page.locator("#task-logs")).to_have_text("refused\n")

    # Forgetting the key brings the form back.
    page.click("#sign-out")
    expect(page.locator("#sign-in")).to_be_visible()

    browser.close()
    assert not problems, problems
print("dashboard: all checks passed")
