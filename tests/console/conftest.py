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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest

from alerts.manager import AlertManager
from collector.service import Collector
from console.accounts import Accounts
from console.database import Database
from console.server import BackgroundServer
from quantrac.config import Config, parse_config
from quantrac.stack import LocalStack
from quantrac.web import build_console
from rules.findings import Finding
from rules.permit import Plant
from simulator.run import SimulateOptions, run_simulation
from tests.conftest import wait_for

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


def shoot(driver: Any, name: str, settle: Callable[[Any], object] | None = None,
          anchor: str | None = None) -> list[Path]:
    """Save the current page as `<name>-1366x768.png` and `<name>-390x844.png` (the viewport
    emulated exactly, as on a phone); `settle(driver)` waits for the page to lay itself out
    again at each size, `anchor` (a CSS selector) is scrolled to the top first; returns the
    paths."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind, (width, height) in SIZES.items():
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1,
            "mobile": kind == "phone"})
        if settle is not None:
            settle(driver)
        if anchor is not None:
            driver.execute_script("document.querySelector(arguments[0]).scrollIntoView()",
                                  anchor)
        path = ARTIFACTS / f"{name}-{width}x{height}.png"
        driver.save_screenshot(str(path))
        paths.append(path)
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    driver.execute_script("window.scrollTo(0, 0)")
    return paths


def charts_fit(driver: Any) -> bool:
    """Every drawn chart is as wide as its box (the charts redraw after a resize)."""
    return bool(driver.execute_script(
        "return Array.from(document.querySelectorAll('figure.chart[data-drawn] .plot'))"
        ".every(p => { const c = p.querySelector('canvas');"
        " return c && Math.abs(c.getBoundingClientRect().width - p.clientWidth) < 3; })"))


# -- a site with real data: simulator -> MQTT -> collector -> check book -> console -----------

HISTORY_DAYS = 30


def data_config(stack: LocalStack, state_dir: Path, database: str, tag: str) -> Config:
    """Kim Bai with a metered member factory (cluster kim-bai, declared), and Phu Nghia."""
    factory = {
        "id": "kb-det-may", "cluster": "kim-bai", "name": "Công ty Dệt may Kim Bài",
        "kind": "factory", "discharges_to": "kim-bai", "interval": "5m",
        "design_flow_m3_day": 300,
        "stations": {"connection": ["flow_out", "ph", "cod", "tss"]},
        "limits": {"cod": 400, "tss": 300, "ph": {"min": 5.0, "max": 9.5}},
    }
    return parse_config({
        "mqtt": {"url": stack.mqtt_url, "client_id": f"console-{tag}"},
        "influx": {"url": stack.influx_url, "database": database},
        "state": {"dir": str(state_dir)},
        "alerts": {"channels": {"terminal": {"type": "terminal"}}, "min_duration": {}},
        "clusters": [{
            "id": "kim-bai", "name": "Cụm công nghiệp Kim Bài", "province": "Hà Nội",
            "central_plant": "kim-bai",
            "factories": [{"id": "kb-co-khi", "name": "Xưởng cơ khí Kim Bài",
                           "connection": "connected", "declared_flow_m3_day": 40}],
        }],
        "plants": [
            {**plant_doc("kim-bai", "kim-bai", "Trạm XLNT tập trung CCN Kim Bài"),
             "stations": {"inlet": ["flow_in"],
                          "outlet": ["flow_out", "temperature", "ph", "tss", "cod", "nh4_n"],
                          "bypass": ["flow_bypass"]}},
            factory,
            # A permit stricter than the plant runs to (COD ~50 mg/L, simulated against the
            # regulation's 135): most hours break it, ranked as chronic non-compliance.
            {**plant_doc("phu-nghia", "phu-nghia", "Trạm XLNT CCN Phú Nghĩa"),
             "limits": {"cod": 40}},
        ],
    })


@dataclass
class DataSite(Site):
    """A console over a running collector that holds 30 days of simulated history."""

    running: Collector | None = None
    spike: str | None = None  # the alert of the injected COD spike, once injected

    @property
    def plants(self) -> dict[str, Plant]:
        return {p.id: p for p in self.config.plants}

    def simulate(self, plant: str, scenario: str, start: datetime, duration: timedelta,
                 seed: int = 3, limits: dict[str, Any] | None = None) -> None:
        """Publish a backfill through the broker, as stations catching up would; `limits`:
        the permit the simulated plant behaves by, when it is not the configured one."""
        model = self.plants[plant]
        if limits is not None:
            model = model.model_copy(update={"limits": limits})
        options = SimulateOptions(plant=plant, scenario=scenario, start=start,
                                  duration=duration, backfill=True, seed=seed)
        run_simulation([model], self.config.mqtt, options)

    def simulate_cluster(self, cluster: str, scenario: str, start: datetime,
                         duration: timedelta, seed: int = 3) -> None:
        """A whole cluster consistently (the central plant's inflow is what its members
        send); plant scenarios apply to the central plant."""
        options = SimulateOptions(cluster=cluster, scenario=scenario, start=start,
                                  duration=duration, backfill=True, seed=seed)
        run_simulation(self.config.plants, self.config.mqtt, options,
                       clusters=self.config.layouts())

    def inject_spike(self) -> str:
        """COD at about twice the limit at Kim Bai for the last two hours, through the
        simulator, the broker and the collector; returns the alert it raised (once)."""
        if self.spike is None:
            # Two whole hours ending at the start of this hour: the spike is the plant's
            # newest word (a normal reading after it would clear the alert).
            hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            self.simulate_cluster("kim-bai", "cod-spike", hour - timedelta(hours=2),
                                  timedelta(hours=2), seed=6)

            def alert() -> str | None:
                return next((a.id for a in self.collector.list_alerts(True, ["kim-bai"])
                             if a.parameter == "cod" and a.kind == "exceedance"
                             and a.state == "firing"), None)

            assert wait_for(lambda: alert() is not None, timeout=20)
            self.spike = alert()
        assert self.spike is not None
        return self.spike

    def judge(self) -> None:
        """Run the frequent check now (hour results of the newest data)."""
        assert self.running is not None and self.running.wait_idle(30)
        self.running.scheduler.run_frequent()


def make_data_site(stack: LocalStack, state_dir: Path, database: str) -> Iterator[DataSite]:
    config = data_config(stack, state_dir, database, database)
    accounts = Accounts(Database(state_dir))
    now = datetime.now(UTC)
    accounts.add("admin", "admin", PASSWORDS["admin"], now)
    accounts.add("op-a", "operator", PASSWORDS["op-a"], now, clusters=["kim-bai"])
    accounts.add("op-b", "operator", PASSWORDS["op-b"], now, plants=["phu-nghia"])
    accounts.add("reg", "regulator", PASSWORDS["reg"], now)
    collector = Collector(config.mqtt, config.influx, config.state, config.plants,
                          config.checks, config.alerts, check_every=timedelta(hours=1),
                          clusters=config.layouts())
    collector.start()
    app, backend = build_console(config)
    server = BackgroundServer(app).start()
    try:
        site = DataSite(server.url, config, collector.alerts, dict(PASSWORDS),
                        running=collector)
        start = (now - timedelta(days=HISTORY_DAYS)).replace(minute=0, second=0,
                                                              microsecond=0)
        history = now.replace(second=0, microsecond=0) - start
        site.simulate_cluster("kim-bai", "calibration,device-error,ph-excursion", start, history)
        site.simulate("phu-nghia", "normal", now - timedelta(days=2), timedelta(days=2), seed=5,
                      limits={})
        assert collector.wait_idle(120)
        # What the daily jobs would have kept of the older days; the frequent job judges the
        # last 48 h from the late marks the backfill left (run here, not by the clock).
        for plant in config.plants:
            day = start.astimezone(plant.zone).replace(hour=0, minute=0)
            while day < now - timedelta(days=2):
                collector.scheduler.check_window(plant, day, day + timedelta(days=1), now,
                                                 job="review")
                day += timedelta(days=1)
        collector.scheduler.run_frequent()
        # The cluster's ledger as its daily jobs kept it: whole days, month by month.
        for layout in collector.scheduler.clusters:
            today = now.astimezone(layout.zone).replace(hour=0, minute=0, second=0,
                                                        microsecond=0)
            day = (start.astimezone(layout.zone) + timedelta(days=1)).replace(
                hour=0, minute=0, second=0, microsecond=0)
            while day < today:
                after = min(today, (day + timedelta(days=32)).replace(day=1))
                collector.scheduler.judge_cluster(layout, day, after, now)
                day = after
        collector.keep_latest()
        yield site
    finally:
        server.stop()
        collector.stop()
        backend.close()


@pytest.fixture(scope="module")
def data_site(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataSite]:
    """One console over a running collector with 30 days of simulated history per module."""
    database = f"data_{tmp_path_factory.mktemp('db').name}"
    stack.create_database(database)
    yield from make_data_site(stack, tmp_path_factory.mktemp("console-data"), database)
