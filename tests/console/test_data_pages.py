"""The data pages on real data (simulator -> MQTT -> real collector -> check book -> console),
in Debian's headless Chromium: a COD spike becomes an alert that appears live and is
acknowledged with a reason (and the CLI agrees); the regulator sees the plant flagged and has
no acknowledge control; a new reading shows on the plant page within 5 s; the public 30-day
page and the gate board without sign-in; the JSON API and the downloads. Screenshots of every
page go to tests/artifacts/console/ (1366×768 and 390×844).
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from datetime import UTC, datetime
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from collector.payload import encode_message, encode_record
from console.status import months_back
from tests.conftest import Publisher
from tests.console.conftest import DataSite, charts_fit, shoot
from tests.console.test_browser import quantrac, rows, sign_in

pytestmark = pytest.mark.integration
NEW_COD = 88.8  # a reading no simulated value has (the simulator writes 2 decimals)


def charts_drawn(driver: Any) -> bool:
    figures = driver.find_elements(By.CSS_SELECTOR, "figure.chart")
    done = driver.find_elements(By.CSS_SELECTOR, "figure.chart[data-drawn], "
                                                 "figure.chart .plot.empty")
    return bool(figures) and len(done) == len(figures)


def test_a_cod_spike_appears_live_and_is_acknowledged_with_a_reason(
    browser: Any, data_site: DataSite
) -> None:
    sign_in(browser, data_site, "op-a", target="/alerts?state=open")
    WebDriverWait(browser, 10).until(
        ec.text_to_be_present_in_element((By.ID, "live"), "Tự cập nhật"))
    alert = data_site.inject_spike()  # simulator -> broker -> collector -> alert book
    started = time.monotonic()
    WebDriverWait(browser, 5).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, f'[data-alert="{alert}"]')))
    assert time.monotonic() - started < 5.0
    assert browser.current_url.endswith("/alerts?state=open")  # no reload
    row = rows(browser)[alert]
    assert row.get_attribute("data-state") == "firing"
    assert "COD" in row.text and "135" in row.text
    shoot(browser, "alerts")

    row.find_element(By.CSS_SELECTOR, "details.ack summary").click()
    Select(row.find_element(By.NAME, "reason")).select_by_value("process_upset")
    row.find_element(By.NAME, "note").send_keys("Sục khí bể hiếu khí dừng 2 giờ")
    row.find_element(By.CSS_SELECTOR, ".ack-form button[type=submit]").click()
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "ack-done")))
    row = rows(browser)[alert]
    assert row.get_attribute("data-acked") == "true"
    row.find_element(By.CSS_SELECTOR, "details.history summary").click()
    entry = row.find_element(By.CSS_SELECTOR, 'details.history li[data-event="acknowledged"]')
    assert "Sự cố vận hành hệ thống xử lý" in entry.text and "Sục khí" in entry.text
    shoot(browser, "alerts-acknowledged")
    listed = quantrac(data_site, "alerts", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (doc,) = [a for a in json.loads(listed.stdout) if a["id"] == alert]
    assert (doc["acked_by"], doc["ack_reason"], doc["ack_note"]) == (
        "op-a", "process_upset", "Sục khí bể hiếu khí dừng 2 giờ")


def test_the_regulator_sees_the_plant_flagged_and_cannot_acknowledge(
    browser: Any, data_site: DataSite
) -> None:
    alert = data_site.inject_spike()
    data_site.judge()
    sign_in(browser, data_site, "reg")
    statuses = {r.get_attribute("data-plant"): r.get_attribute("data-status")
                for r in browser.find_elements(By.CSS_SELECTOR, "tr[data-plant]")}
    assert statuses["kim-bai"] == "exceedance"
    assert statuses["kb-det-may"] == "compliant"
    # Phu Nghia's permit (COD 40) is broken most hours: ranked first as chronic.
    ranked = browser.find_elements(By.CSS_SELECTOR, "#chronic li[data-plant]")
    assert [li.get_attribute("data-plant") for li in ranked] == ["phu-nghia"]
    shoot(browser, "overview")
    browser.get(data_site.url + "/alerts?state=open")
    assert alert in rows(browser)
    assert browser.find_elements(By.CSS_SELECTOR, "details.ack, form.ack-form") == []
    browser.get(data_site.url + "/plants/kim-bai")
    assert browser.find_element(By.ID, "plant-status").get_attribute("class").endswith(
        "status-exceedance")
    assert browser.find_elements(By.CSS_SELECTOR, "form[action*='/ack']") == []
    with data_site.client("reg") as client:
        token = client.csrf("/alerts")
        refused = client.post(f"/alerts/{alert}/ack",
                              data={"csrf_token": token, "reason": "maintenance"})
    assert refused.status_code == 403
    # Sorting and filtering by query (no script): worst first, then only the chronic ones.
    browser.get(data_site.url + "/?sort=completeness&dir=desc&status=exceedance")
    shown = [r.get_attribute("data-plant")
             for r in browser.find_elements(By.CSS_SELECTOR, "tr[data-plant]")]
    assert set(shown) == {"kim-bai", "phu-nghia"}
    browser.get(data_site.url + "/?chronic=1")
    assert [r.get_attribute("data-plant") for r in browser.find_elements(
        By.CSS_SELECTOR, "tr[data-plant]")] == ["phu-nghia"]


def test_a_new_reading_shows_on_the_plant_page_within_5_seconds(
    browser: Any, data_site: DataSite, publisher: Publisher
) -> None:
    sign_in(browser, data_site, "op-a", target="/plants/kim-bai")
    cell = '#live-values tr[data-parameter="cod"] strong[data-value]'
    assert browser.find_element(By.CSS_SELECTOR, cell).get_attribute("data-value") != str(
        NEW_COD)
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.monotonic()
    publisher.publish("quantrac/v1/kim-bai/kim-bai/outlet/data", encode_message(
        [encode_record(now, {"cod": NEW_COD, "ph": 7.1, "tss": 512.0}, status={"tss": "01"})]))
    WebDriverWait(browser, 5).until(lambda d: d.find_element(
        By.CSS_SELECTOR, cell).get_attribute("data-value") == str(NEW_COD))
    assert time.monotonic() - started < 5.0
    assert browser.find_element(By.CSS_SELECTOR, cell).text == "88,8"
    tss = browser.find_element(By.CSS_SELECTOR, '#live-values tr[data-parameter="tss"]')
    assert tss.get_attribute("data-status") == "01"  # calibrating: shown, not a live value
    assert "512" not in tss.text
    assert browser.current_url.endswith("/plants/kim-bai")
    WebDriverWait(browser, 20).until(charts_drawn)
    shoot(browser, "plant", settle=lambda d: WebDriverWait(d, 10).until(charts_fit))
    shoot(browser, "plant-charts", settle=lambda d: WebDriverWait(d, 10).until(charts_fit),
          anchor="#charts-title")
    limit = browser.find_element(By.CSS_SELECTOR, 'figure.chart[data-limit-max="135.0"]')
    assert "135" in limit.text
    browser.get(data_site.url + "/plants/kim-bai?range=30d")
    WebDriverWait(browser, 20).until(charts_drawn)
    # TSS (a device error's hour shaded as excluded) and COD (the spike over its limit line).
    shoot(browser, "plant-30d", settle=lambda d: WebDriverWait(d, 10).until(charts_fit),
          anchor="#charts figure:nth-child(5)")
    shoot(browser, "plant-ledgers", anchor="#findings-title")
    assert browser.find_elements(By.CSS_SELECTOR, "#treatment tr[data-date]")
    assert browser.find_elements(By.CSS_SELECTOR, "#completeness .strip .cell.full")


def test_the_public_page_and_board_need_no_sign_in(
    browser: Any, data_site: DataSite, publisher: Publisher
) -> None:
    data_site.inject_spike()
    data_site.judge()
    browser.delete_all_cookies()
    browser.get(data_site.url + "/public/")
    browser.find_element(By.CSS_SELECTOR, '[data-plant="kim-bai"] a').click()
    WebDriverWait(browser, 10).until(ec.url_contains("/public/kim-bai"))
    cod = browser.find_element(By.CSS_SELECTOR, '#public-summary [data-parameter="cod"]')
    assert cod.get_attribute("data-limit") == "135.0" and "≤ 135 mg/L" in cod.text
    limits = {r.get_attribute("data-parameter"): r.get_attribute("data-limit")
              for r in browser.find_elements(By.CSS_SELECTOR, "#public-summary tr[data-limit]")}
    assert limits["ph"] == "9.0" and limits["flow_out"] == ""
    newest = browser.find_element(By.CSS_SELECTOR, "details.day[open]")
    heads = [th.get_attribute("data-parameter") for th in newest.find_elements(
        By.CSS_SELECTOR, "thead th")]
    cod_cells = newest.find_elements(By.CSS_SELECTOR,
                                     f"tbody td:nth-child({heads.index('cod') + 1})")
    assert any("over" in td.get_attribute("class") for td in cod_cells)  # the spike
    shoot(browser, "public-plant")
    # An older day on its own page: the TSS device error's hour, its readings excluded.
    with data_site.client() as anonymous:
        hours = anonymous.get("/api/v1/public/kim-bai?days=30").json()["hours"]
    error = next(h for h in hours if h["parameter"] == "tss" and h["excluded"] and
                 not h["valid"])
    day = datetime.fromisoformat(error["time"]).astimezone(
        data_site.plants["kim-bai"].zone).date().isoformat()
    browser.find_element(By.CSS_SELECTOR, f'#other-days a[href*="day={day}"]').click()
    WebDriverWait(browser, 10).until(ec.url_contains(f"day={day}"))
    assert browser.find_elements(By.CSS_SELECTOR, "td sup.excl")
    assert browser.find_element(By.CSS_SELECTOR, "details.day[open]").get_attribute(
        "data-day") == day
    browser.get(data_site.url + "/public/kim-bai/board")
    board = browser.find_element(By.CSS_SELECTOR, '.board-value[data-parameter="cod"]')
    assert board.get_attribute("data-limit") == "135.0" and "≤ 135 mg/L" in board.text
    shown = browser.find_element(By.ID, "board-values").get_attribute("data-newest")
    shoot(browser, "board")
    # It refreshes itself (htmx, no inline script): a newer reading replaces the values.
    publisher.publish("quantrac/v1/kim-bai/kim-bai/outlet/data", encode_message(
        [encode_record(datetime.now(UTC).replace(microsecond=0), {"cod": 77.7})]))
    WebDriverWait(browser, 15).until(lambda d: d.find_element(
        By.ID, "board-values").get_attribute("data-newest") != shown)
    assert "77,7" in browser.find_element(
        By.CSS_SELECTOR, '.board-value[data-parameter="cod"] .big').text


def test_the_api_answers_and_refuses_bad_parameters(data_site: DataSite) -> None:
    with data_site.client() as anonymous:
        public = anonymous.get("/api/v1/public/kim-bai?days=30")
        assert public.status_code == 200
        doc = public.json()
        assert {p["parameter"] for p in doc["parameters"]} >= {"cod", "ph", "tss"}
        assert any(h["excluded"] > 0 for h in doc["hours"])
        assert anonymous.get("/api/v1/public/kim-bai?days=31").status_code == 400
        assert anonymous.get("/api/v1/public/nowhere").status_code == 404
        assert anonymous.get("/api/v1/plants/kim-bai/latest").status_code == 401
    with data_site.client("op-a") as client:
        latest = client.get("/api/v1/plants/kim-bai/latest").json()
        cod = next(v for v in latest["values"] if v["parameter"] == "cod")
        assert cod["limit"] == {"max": 135.0, "unit": "mg/L"} and cod["status"] == "00"
        day = client.get("/api/v1/plants/kim-bai/series?parameter=tss").json()
        assert day["resolution"] == "reading" and len(day["points"]) > 200
        month = client.get("/api/v1/plants/kim-bai/series", params={
            "parameter": "tss", "from": "2000-01-01T00:00:00+07:00"})
        assert month.status_code == 400 and "31 days" in month.json()["error"]
        week = client.get("/api/v1/plants/kim-bai/series", params={
            "parameter": "tss", "resolution": "hour",
            "from": datetime.fromtimestamp(time.time() - 20 * 86400, UTC).isoformat()}).json()
        assert week["resolution"] == "hour"
        assert any(p["excluded"] > 0 and p["valid"] == 0 for p in week["points"])
        for query, needle in (("", "parameter: required"), ("parameter=zinc", "not measured"),
                              ("parameter=cod&from=yesterday", "not an ISO 8601 time"),
                              ("parameter=cod&station=inlet", "does not measure"),
                              ("parameter=cod&colour=red", "unknown parameter")):
            bad = client.get(f"/api/v1/plants/kim-bai/series?{query}")
            assert bad.status_code == 400 and needle in bad.json()["error"], query
        assert client.get("/api/v1/plants/phu-nghia/series?parameter=cod").status_code == 403
        assert client.get("/api/v1/plants/phu-nghia/latest").status_code == 403


def test_downloads_are_the_clis_report_and_circular10_files(data_site: DataSite) -> None:
    month = datetime.now(UTC).astimezone(data_site.plants["kim-bai"].zone).strftime("%Y-%m")
    last = months_back(month, 1)  # a whole month of the 30 days of history
    with data_site.client("op-a") as client:
        # The month so far (a whole month's PDF takes ~10 s here: the CLI's charts).
        pdf = client.get(f"/plants/kim-bai/report?month={month}&format=pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert pdf.headers["content-type"] == "application/pdf"
        assert 'filename="kim-bai_' in pdf.headers["content-disposition"]
        html = client.get(f"/plants/kim-bai/report?month={month}&format=html&lang=en")
        assert html.status_code == 200 and "Kim Bài" in html.text and 'lang="en"' in html.text
        tables = client.get(f"/plants/kim-bai/report?month={last}&format=csv")
        assert f'filename="kim-bai_{last}_csv.zip"' in tables.headers["content-disposition"]
        names = zipfile.ZipFile(io.BytesIO(tables.content)).namelist()
        assert f"kim-bai_{last}_treatment.csv" in names
        files = client.get(f"/plants/kim-bai/circular10?month={month}")
        archive = zipfile.ZipFile(io.BytesIO(files.content))
        outlet = next(n for n in archive.namelist() if "_outlet_" in n.lower()
                      or "_ra_" in n.lower() or "COD" in archive.read(n).decode())
        lines = archive.read(outlet).decode().splitlines()
        cod = next(line.split("\t") for line in lines if line.startswith("COD"))
        assert cod[2] == "mg/L" and cod[4] in ("00", "01", "02")
        assert client.get("/plants/kim-bai/report?month=2999-01").status_code == 400
        assert client.get("/plants/kim-bai/report?month=13&format=pdf").status_code == 400
        assert client.get(f"/plants/phu-nghia/circular10?month={month}").status_code == 403


def test_the_cluster_page_shows_members_and_the_ledger(browser: Any, data_site: DataSite) -> None:
    sign_in(browser, data_site, "op-a")
    header = browser.find_element(By.CSS_SELECTOR, '[data-cluster="kim-bai"] .ratios')
    assert "Tỷ lệ thu gom" in header.text and "%" in header.text
    browser.find_element(By.CSS_SELECTOR, '[data-cluster="kim-bai"] h2 a').click()
    WebDriverWait(browser, 10).until(ec.url_contains("/clusters/kim-bai"))
    members = {r.get_attribute("data-plant"): r for r in browser.find_elements(
        By.CSS_SELECTOR, "#members tr[data-plant]")}
    assert list(members) == ["kim-bai", "kb-det-may", "kb-co-khi"]
    assert members["kb-det-may"].get_attribute("data-status") == "compliant"
    assert members["kb-co-khi"].get_attribute("data-connection") == "connected"
    days = browser.find_elements(By.CSS_SELECTOR, "#ledger tr[data-date]")
    assert len(days) >= 28
    assert "%" in days[0].text
    month = browser.find_element(By.CSS_SELECTOR, "#cluster-target [data-period]")
    assert month.get_attribute("data-period")
    shoot(browser, "cluster")
    with data_site.client("op-b") as client:  # Phu Nghia's operator
        assert client.get("/clusters/kim-bai").status_code == 403
        assert client.get("/clusters/nowhere").status_code == 404
        assert client.get("/clusters/phu-nghia").status_code == 200
