"""The console in a real headless Chromium (Debian's chromium + chromedriver): sign-in and
sign-out, the sign-in lock, acknowledging with a reason (and the CLI agreeing), a new alert
showing up live, roles and scopes, CSRF, and a hostile plant name. Screenshots of each page
go to tests/artifacts/console/ (1366×768 and 390×844).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from selenium.common.exceptions import NoAlertPresentException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from console.accounts import Accounts
from console.audit import AuditLog
from console.database import Database
from tests.console.conftest import XSS_NAME, Site, shoot

pytestmark = pytest.mark.integration


def sign_in(browser: Any, site: Site, user: str, password: str | None = None,
            target: str = "/") -> None:
    browser.get(site.url + "/login")
    browser.delete_all_cookies()
    browser.get(f"{site.url}/login?next={target}")
    browser.find_element(By.ID, "username").send_keys(user)
    browser.find_element(By.ID, "password").send_keys(password or site.passwords[user])
    form = browser.find_element(By.ID, "login-form")
    browser.find_element(By.ID, "sign-in").click()
    WebDriverWait(browser, 10).until(lambda driver: replaced(driver, form))


def replaced(driver: Any, element: Any) -> bool:
    """The page that held `element` is gone and the next one has loaded. (Chrome may answer
    an element check during the navigation with a generic error instead of "stale".)"""
    try:
        element.is_enabled()
        return False
    except WebDriverException:  # StaleElementReferenceException is one
        return bool(driver.execute_script("return document.readyState") == "complete")


def open_alerts(browser: Any, site: Site, user: str) -> dict[str, Any]:
    """Sign in as `user` on the open alerts page; its rows by alert id."""
    sign_in(browser, site, user, target="/alerts?state=open")
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "alert-list")))
    return rows(browser)


def rows(browser: Any) -> dict[str, Any]:
    return {row.get_attribute("data-alert"): row
            for row in browser.find_elements(By.CSS_SELECTOR, "[data-alert]")}


def audit_actions(site: Site) -> list[tuple[str, str]]:
    return [(e.action, e.actor) for e in AuditLog(Database(site.state_dir)).entries()]


def quantrac(site: Site, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QUANTRAC_STATE_DIR": str(site.state_dir)}
    return subprocess.run([sys.executable, "-m", "quantrac.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_sign_in_returns_to_the_page_asked_for_and_sign_out_ends_the_session(
    browser: Any, site: Site
) -> None:
    browser.get(site.url + "/alerts")
    assert "/login?next=%2Falerts" in browser.current_url
    assert browser.find_element(By.TAG_NAME, "h1").text == "Đăng nhập bảng điều khiển"
    shoot(browser, "login")
    browser.find_element(By.ID, "username").send_keys("op-a")
    browser.find_element(By.ID, "password").send_keys(site.passwords["op-a"])
    browser.find_element(By.ID, "sign-in").click()
    WebDriverWait(browser, 10).until(ec.url_contains("/alerts"))
    assert "op-a" in browser.find_element(By.CSS_SELECTOR, ".who").text
    browser.find_element(By.ID, "sign-out").click()
    WebDriverWait(browser, 10).until(ec.url_contains("/login?bye=1"))
    assert "Bạn đã đăng xuất" in browser.page_source
    browser.get(site.url + "/")
    assert "/login" in browser.current_url
    assert ("logout", "op-a") in audit_actions(site) and ("login", "op-a") in audit_actions(site)


def test_wrong_passwords_lock_the_account_with_a_clear_message(
    browser: Any, site: Site
) -> None:
    Accounts(Database(site.state_dir)).add("lockme", "operator", "right-password-1",
                                          datetime.now(UTC), plants=["kim-bai"])
    sign_in(browser, site, "lockme", "wrong-1")
    assert browser.find_element(By.ID, "login-error").text == "Sai tên đăng nhập hoặc mật khẩu."
    sign_in(browser, site, "lockme", "wrong-2")
    sign_in(browser, site, "lockme", "wrong-3")  # the limit of this site is 3
    message = browser.find_element(By.ID, "login-error").text
    assert "Đăng nhập sai quá nhiều lần" in message and "tạm khóa đến" in message
    sign_in(browser, site, "lockme", "right-password-1")  # locked: even the right one
    assert "tạm khóa đến" in browser.find_element(By.ID, "login-error").text
    assert "/login" in browser.current_url
    shoot(browser, "login-locked")
    actions = audit_actions(site)
    assert actions.count(("login_failed", "lockme")) == 3
    assert ("login_locked", "lockme") in actions and ("login", "lockme") not in actions


def test_operator_acknowledges_with_a_reason_and_the_cli_agrees(
    browser: Any, site: Site
) -> None:
    shown = open_alerts(browser, site, "op-a")
    mine = {a.id: a for a in site.collector.list_alerts(plants=["kim-bai"])}
    assert set(mine) <= set(shown)
    assert not any(a.id in shown for a in site.collector.list_alerts(plants=["phu-nghia"]))
    cod = next(a for a in mine.values() if a.parameter == "cod")
    row = shown[cod.id]
    assert (row.get_attribute("data-state"), row.get_attribute("data-acked")) == (
        "firing", "false")
    shoot(browser, "alerts")

    row.find_element(By.CSS_SELECTOR, "details.ack summary").click()
    Select(row.find_element(By.NAME, "reason")).select_by_value("process_upset")
    row.find_element(By.NAME, "note").send_keys("Bơm định lượng kẹt, đã xử lý")
    row.find_element(By.CSS_SELECTOR, ".ack-form button[type=submit]").click()
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "ack-done")))
    row = rows(browser)[cod.id]
    assert row.get_attribute("data-acked") == "true"
    assert "Sự cố vận hành hệ thống xử lý" in row.find_element(By.CSS_SELECTOR, ".ack-status").text
    row.find_element(By.CSS_SELECTOR, "details.history summary").click()
    entry = row.find_element(By.CSS_SELECTOR, 'details.history li[data-event="acknowledged"]')
    assert "Sự cố vận hành hệ thống xử lý" in entry.text
    assert "op-a: Bơm định lượng kẹt" in entry.text
    shoot(browser, "alerts-acknowledged")

    listed = quantrac(site, "alerts", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (doc,) = [a for a in json.loads(listed.stdout) if a["id"] == cod.id]
    assert (doc["acked_by"], doc["ack_reason"], doc["ack_note"]) == (
        "op-a", "process_upset", "Bơm định lượng kẹt, đã xử lý")
    assert ("ack", "op-a") in audit_actions(site)


def test_other_reason_needs_a_note_in_the_form(browser: Any, site: Site) -> None:
    sign_in(browser, site, "op-a", target="/alerts?state=open")
    tss = next(a for a in site.collector.list_alerts(plants=["kim-bai"])
               if a.parameter == "tss")
    row = rows(browser)[tss.id]
    row.find_element(By.CSS_SELECTOR, "details.ack summary").click()
    note = row.find_element(By.NAME, "note")
    assert note.get_attribute("required") is None
    Select(row.find_element(By.NAME, "reason")).select_by_value("other")
    assert note.get_attribute("required") is not None
    row.find_element(By.CSS_SELECTOR, ".ack-form button[type=submit]").click()
    assert note.get_property("validity")["valueMissing"] is True  # the browser held it back
    assert browser.current_url.endswith("/alerts?state=open")
    assert not site.collector.get(tss.id).acknowledged


def test_a_new_alert_appears_on_an_open_page_within_5_seconds(
    browser: Any, site: Site
) -> None:
    sign_in(browser, site, "op-a", target="/alerts?state=open")
    WebDriverWait(browser, 10).until(
        ec.text_to_be_present_in_element((By.ID, "live"), "Tự cập nhật"))
    started = time.monotonic()
    new = site.fire("kim-bai", "nh4_n", 14.2, 9.0)
    WebDriverWait(browser, 5).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, f'[data-alert="{new}"]')))
    elapsed = time.monotonic() - started
    assert elapsed < 5.0
    assert rows(browser)[new].get_attribute("data-state") == "firing"
    assert browser.current_url.endswith("/alerts?state=open")  # no reload happened


def test_regulator_sees_every_plant_has_no_ack_control_and_a_forged_ack_is_403(
    browser: Any, site: Site
) -> None:
    shown = open_alerts(browser, site, "reg")
    everyone = site.collector.list_alerts(open_only=True)
    assert {a.id for a in everyone} <= set(shown)
    assert browser.find_elements(By.CSS_SELECTOR, "details.ack, form.ack-form") == []
    assert "không xác nhận cảnh báo" in browser.page_source
    shoot(browser, "alerts-regulator")
    target = next(a for a in everyone if a.plant == "phu-nghia")
    with site.client("reg") as client:
        token = client.csrf("/alerts")
        refused = client.post(f"/alerts/{target.id}/ack",
                              data={"csrf_token": token, "reason": "maintenance"})
    assert refused.status_code == 403
    assert not site.collector.get(target.id).acknowledged


def test_operator_of_plant_a_gets_403_for_plant_b(browser: Any, site: Site) -> None:
    sign_in(browser, site, "op-a", target="/plants/phu-nghia")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Lỗi 403"
    assert browser.find_element(By.ID, "error-detail").text == (
        "Cơ sở phu-nghia nằm ngoài phạm vi tài khoản của bạn.")
    shoot(browser, "forbidden")
    theirs = next(a for a in site.collector.list_alerts(plants=["phu-nghia"]))
    with site.client("op-a") as client:
        assert client.get("/api/v1/alerts?plant=phu-nghia").status_code == 403
        assert client.get("/plants/phu-nghia").status_code == 403
        token = client.csrf("/alerts")
        refused = client.post(f"/alerts/{theirs.id}/ack",
                              data={"csrf_token": token, "reason": "maintenance"})
        assert refused.status_code == 403
        assert client.get("/plants/nowhere").status_code == 404
    assert not site.collector.get(theirs.id).acknowledged


def test_a_post_without_csrf_token_is_refused(site: Site) -> None:
    mine = next(a for a in site.collector.list_alerts(open_only=True, plants=["kim-bai"])
                if not a.acknowledged)
    with site.client("op-a") as client:
        missing = client.post(f"/alerts/{mine.id}/ack", data={"reason": "maintenance"})
        wrong = client.post(f"/alerts/{mine.id}/ack",
                            data={"reason": "maintenance", "csrf_token": "forged"})
        logout = client.post("/logout")
        assert (missing.status_code, wrong.status_code, logout.status_code) == (403, 403, 403)
        assert "CSRF" in missing.text
        assert client.get("/").status_code == 200  # the refused logout did not sign out
    assert not site.collector.get(mine.id).acknowledged


def test_a_plant_named_like_a_script_renders_as_text(browser: Any, site: Site) -> None:
    sign_in(browser, site, "admin")
    WebDriverWait(browser, 10).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, '[data-plant="xss"]')))
    name = browser.find_element(By.CSS_SELECTOR, '[data-plant="xss"] .plant-name')
    assert name.text == XSS_NAME
    statuses = {row.get_attribute("data-plant"): row.get_attribute("data-status")
                for row in browser.find_elements(By.CSS_SELECTOR, "tr[data-plant]")}
    # Open exceedance alerts (seeded) and no reading yet.
    assert statuses == {"kim-bai": "exceedance", "phu-nghia": "exceedance", "xss": "exceedance"}
    shoot(browser, "overview")
    for path in ("/alerts?plant=xss", "/plants/xss", "/public/"):
        browser.get(site.url + path)
        assert XSS_NAME in browser.find_element(By.TAG_NAME, "body").text, path
        with pytest.raises(NoAlertPresentException):
            browser.switch_to.alert.text  # noqa: B018 - the call itself is the check
    browser.get(site.url + "/plants/kim-bai")
    cod = browser.find_element(By.CSS_SELECTOR, '.limits [data-parameter="cod"]')
    assert cod.get_attribute("data-limit") == "135.0" and "≤ 135 mg/L" in cod.text
    shoot(browser, "plant")
    browser.delete_all_cookies()
    browser.get(site.url + "/public/")
    assert browser.find_element(By.CSS_SELECTOR, '[data-plant="xss"] .plant-name').text == (
        XSS_NAME)
    shoot(browser, "public")


def test_language_switch_is_remembered(browser: Any, site: Site) -> None:
    sign_in(browser, site, "reg", target="/alerts")
    browser.find_element(By.CSS_SELECTOR, '.langs a[lang="en"]').click()
    assert browser.find_element(By.TAG_NAME, "h1").text == "Alerts"
    browser.get(site.url + "/")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Plants overview"
    shoot(browser, "overview-en")
    browser.find_element(By.CSS_SELECTOR, '.langs a[lang="vi"]').click()
    assert browser.find_element(By.TAG_NAME, "h1").text == "Tổng quan các cơ sở"
