"""The dispatcher's page in real headless Chromium (Debian `chromium` + `chromium-driver`, driven by selenium)
against a real `recourse serve`: enter a key, open a held case, ask why, approve, see it resolved.

Set RECOURSE_SCREENSHOT=docs/screenshot.png to refresh the README's screenshot (otherwise it goes to tmp)."""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import httpx
import pytest

from tests.api.server import Server, create_key
from tests.conftest import SCENARIOS, repo_scenario

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver: apt-get install -y chromium chromium-driver")

WORLD = "pub-04-milan-strategic-reschedule-approval"
WAIT_S = 15


@pytest.fixture
def served(tmp_path):
    """A real server on the Milan world, the strategic customer's case waiting for approval, a dispatcher key."""
    keys = {role: create_key(tmp_path, role) for role in ("submitter", "dispatcher")}
    server = Server(tmp_path, world=SCENARIOS / f"{WORLD}.yaml", retry_base_delay_s=0).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            submitted = client.post("/v1/exceptions", json=repo_scenario(WORLD).event.model_dump(),
                                    headers={"Authorization": f"Bearer {keys['submitter']}"})
            case_id = submitted.json()["case_id"]
            client.post("/v1/exceptions", headers={"Authorization": f"Bearer {keys['submitter']}"}, json={  # a second case
                "id": "EVT-MIL-55121", "type": "vehicle_breakdown", "pickup_id": "P2", "source": "driver_app",
                "note": "truck fine?? maybe not. call me"})
            deadline = time.monotonic() + WAIT_S
            while client.get(f"/v1/cases/{case_id}", headers={"Authorization": f"Bearer {keys['dispatcher']}"}
                             ).json()["status"] != "awaiting_approval":
                assert time.monotonic() < deadline, "the case never reached awaiting_approval"
                time.sleep(0.05)
        yield server, keys["dispatcher"], case_id
    finally:
        server.stop()


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1440,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)  # both given: selenium fetches nothing
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1440, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    try:
        yield driver
    finally:
        driver.quit()


def test_a_dispatcher_asks_why_and_approves_a_held_case(served, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    server, key, case_id = served
    wait = WebDriverWait(browser, WAIT_S)
    find = browser.find_element

    browser.get(server.url + "/")
    assert browser.title == "Recourse · dispatch"
    find(By.ID, "key").send_keys(key)
    find(By.CSS_SELECTOR, "#key-form button").click()
    item = wait.until(shown.element_to_be_clickable((By.CSS_SELECTOR, f'.case-item[data-case-id="{case_id}"]')))
    assert "awaiting approval" in item.text
    item.click()

    wait.until(shown.visibility_of_element_located((By.ID, "approval")))
    assert find(By.ID, "case-title").text == case_id
    assert "customer C1 is strategic" in find(By.ID, "held").text
    timeline = [e.get_attribute("id") for e in browser.find_elements(By.CSS_SELECTOR, "#timeline .entry")]
    kinds = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#timeline .entry .kind")]
    assert kinds[:3] == ["case.submitted", "classified", "planned"] and kinds[-1] == "approval.requested"
    assert "4 alternatives rejected" in find(By.CSS_SELECTOR, "#timeline .rejected summary").text

    find(By.ID, "chat-input").send_keys("why?")
    find(By.ID, "chat-send").click()
    answer = wait.until(shown.presence_of_element_located((By.CSS_SELECTOR, ".msg.bot.answered")))
    assert "customer C1 is strategic" in answer.text and "reschedule.strategic_customer" in answer.text
    cites = answer.find_elements(By.CSS_SELECTOR, ".cite")
    assert cites and all(f"entry-{c.get_attribute('data-seq')}" in timeline for c in cites)
    assert set(re.findall(r"#(\d+)", " ".join(c.text for c in cites))) == {c.get_attribute("data-seq") for c in cites}
    screenshot = Path(os.environ.get("RECOURSE_SCREENSHOT") or tmp_path / "screenshot.png")
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    browser.execute_script("document.getElementById('messages').scrollTop = 1e9")
    browser.save_screenshot(str(screenshot))
    cites[0].click()  # a citation points at its timeline entry
    wait.until(lambda b: "flash" in find(By.ID, f"entry-{cites[0].get_attribute('data-seq')}").get_attribute("class"))

    find(By.ID, "approval-comment").send_keys("customer agreed to tomorrow")
    find(By.ID, "approve").click()
    wait.until(shown.text_to_be_present_in_element((By.ID, "case-status"), "resolved"))
    assert not find(By.ID, "approval").is_displayed()
    kinds = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#timeline .entry .kind")]
    assert kinds[-1] == "case.resolved" and "approval.received" in kinds
    wait.until(shown.text_to_be_present_in_element((By.CSS_SELECTOR, f'.case-item[data-case-id="{case_id}"]'), "resolved"))
    assert "customer agreed to tomorrow" in find(By.ID, "timeline").text
    assert not [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
