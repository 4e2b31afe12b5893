"""Console test fixtures: a real console server on a free port (the same wiring as
`quantrac web`) against the test stack, accounts of every role, seeded alerts, one headless
Debian Chromium for the whole session (Selenium with Debian's chromedriver; Selenium Manager
is made to fail if anything ever calls it, so nothing can download a browser), an HTTP client
that signs in like a browser, and a screenshot helper (1366×768 and 390×844 PNGs in
tests/artifacts/console/).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest

from alerts.manager import AlertManager
from console.accounts import Accounts
from console.database import Database
from console.server import BackgroundServer
from quantrac.config import Config, parse_config
from quantrac.stack import LocalStack
from quantrac.web import build_console
from rules.findings import Finding

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "console"
SIZES = {"desktop": (1366, 768), "phone": (390, 844)}
XSS_NAME = "<script>alert(1)</script>"
PASSWORDS = {
    "admin": "admin-pass-1234",
    "op-a": "operator-a-pass",
    "op-b": "operator-b-pass",
    "reg": "regulator-pass-1",
}


def plant_doc(plant_id: str, cluster: str, name: str) -> dict[str, Any]:
    return {
        "id": plant_id, "cluster": cluster, "name": name, "design_flow_m3_day": 1500,
        "regulation": "qcvn40-2011", "column": "B", "kq": 0.9, "interval": "5m",
        "stations": {"inlet": ["flow_in"],
                     "outlet": ["flow_out", "temperature", "ph", "tss", "cod", "nh4_n"]},
    }


def site_config(stack: LocalStack, state_dir: Path, database: str) -> Config:
    return parse_config({
        "mqtt": {"url": stack.mqtt_url},
        "influx": {"url": stack.influx_url, "database": database},
        "state": {"dir": str(state_dir)},
        "alerts": {"channels": {"terminal": {"type": "terminal"}}},
        "web": {"login_max_failures_user": 3},
        "plants": [
            plant_doc("kim-bai", "kim-bai", "Kim Bai Industrial Cluster WWTP"),
            plant_doc("phu-nghia", "phu-nghia", "Phu Nghia WWTP"),
            plant_doc("xss", "phu-nghia", XSS_NAME),
        ],
    })


def finding(plant: str, parameter: str, value: float, limit: float, severity: str,
            start: datetime, basis: str = "instantaneous") -> Finding:
    return Finding(plant=plant, station="outlet", parameter=parameter, kind="exceedance",
                   basis=basis, start=start, end=start, value=value, limit=limit,
                   ratio=value / limit, severity=severity)


@dataclass
class Site:
    """A running console and what a test needs to act on it."""

    url: str
    config: Config
    collector: AlertManager  # a second manager on the same book: the collector's stand-in
    passwords: dict[str, str]

    @property
    def state_dir(self) -> Path:
        return self.config.state.dir

    def fire(self, plant: str, parameter: str, value: float, limit: float,
             severity: str = "major") -> str:
        """Open and fire an alert the way the collector would; returns its id."""
        now = datetime.now(UTC)
        self.collector.observe([finding(plant, parameter, value, limit, severity, now)],
                               [(plant, "outlet", parameter)], now)
        self.collector.tick(now)
        opened = [a for a in self.collector.list_alerts(open_only=True, plants=[plant])
                  if a.parameter == parameter]
        return opened[0].id

    @contextmanager
    def client(self, user: str | None = None) -> Iterator[ConsoleClient]:
        """An HTTP client, signed in as `user` when given."""
        with ConsoleClient(self.url) as client:
            if user is not None:
                client.sign_in(user, self.passwords[user])
            yield client


class ConsoleClient(httpx2.Client):
    """An HTTP client that keeps cookies and signs in through the form, like a browser."""

    def __init__(self, url: str) -> None:
        super().__init__(base_url=url, follow_redirects=False, timeout=20)

    def csrf(self, path: str = "/") -> str:
        """The CSRF token a page of `path` carries (its meta tag)."""
        match = re.search(r'name="csrf-token" content="([^"]*)"', self.get(path).text)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def sign_in(self, user: str, password: str) -> httpx2.Response:
        token = self.csrf("/login")
        response = self.post("/login", data={"username": user, "password": password,
                                             "csrf_token": token, "next": "/"})
        assert response.status_code == 303, response.text[:500]
        return response


def make_site(stack: LocalStack, state_dir: Path, database: str) -> Iterator[Site]:
    config = site_config(stack, state_dir, database)
    accounts = Accounts(Database(state_dir))
    now = datetime.now(UTC)
    accounts.add("admin", "admin", PASSWORDS["admin"], now)
    accounts.add("op-a", "operator", PASSWORDS["op-a"], now, plants=["kim-bai"])
    accounts.add("op-b", "operator", PASSWORDS["op-b"], now, plants=["phu-nghia", "xss"])
    accounts.add("reg", "regulator", PASSWORDS["reg"], now)
    collector = AlertManager(config.alerts, list(config.plants), state_dir)
    earlier = now - timedelta(minutes=20)
    collector.observe([
        finding("kim-bai", "cod", 151.2, 135.0, "major", earlier),
        finding("kim-bai", "tss", 96.0, 90.0, "minor", earlier, basis="hourly_mean"),
        finding("phu-nghia", "cod", 190.0, 135.0, "major", earlier),
        finding("xss", "nh4_n", 12.5, 9.0, "major", earlier),
    ], [], earlier)
    collector.tick(earlier)
    app, backend = build_console(config)
    server = BackgroundServer(app).start()
    try:
        yield Site(server.url, config, collector, dict(PASSWORDS))
    finally:
        server.stop()
        backend.close()
        collector.close()


@pytest.fixture(scope="module")
def site(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One console per test module (fresh accounts and alert book)."""
    database = f"console_{tmp_path_factory.mktemp('db').name}"
    stack.create_database(database)
    yield from make_site(stack, tmp_path_factory.mktemp("console-state"), database)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Debian Chromium for the session (desktop size; see `shoot`)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common import selenium_manager

    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("Debian's chromium and chromium-driver are missing: run `make setup`")

    def refuse(*_args: object, **_kwargs: object) -> dict[str, str]:
        raise RuntimeError("Selenium Manager must not run: it would download a browser")

    patch = pytest.MonkeyPatch()
    patch.setattr(selenium_manager.SeleniumManager, "binary_paths", refuse)
    profile = tempfile.mkdtemp(prefix="quantrac-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                 "--window-size=1366,768", "--lang=vi"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)),
                              options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        patch.undo()
        shutil.rmtree(profile, ignore_errors=True)


def shoot(driver: Any, name: str) -> list[Path]:
    """Save the current page as `<name>-1366x768.png` and `<name>-390x844.png` (the viewport
    emulated exactly, as on a phone); returns the paths."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind, (width, height) in SIZES.items():
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1,
            "mobile": kind == "phone"})
        path = ARTIFACTS / f"{name}-{width}x{height}.png"
        driver.save_screenshot(str(path))
        paths.append(path)
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return paths
