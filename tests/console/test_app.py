"""The console application in process (Starlette's TestClient, no browser): every route
refuses anonymous access but the public ones, CSRF, cookies, security headers, no inline
code, sessions that end, bearer tokens, the answers for bad parameters, scopes and refusals.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from alerts.manager import AlertManager
from collector.checkbook import CheckBook
from collector.store import MemoryStore
from console.accounts import Accounts
from console.app import create_app
from console.database import Database
from console.gate import CSP
from console.settings import WebSettings
from console.sources import Document, Sources
from console.words import load_words
from rules.permit import Plant
from tests.console.conftest import PASSWORDS, finding, plant_doc

PLANTS = [Plant.model_validate(plant_doc("kim-bai", "kim-bai", "Kim Bai")),
          Plant.model_validate(plant_doc("phu-nghia", "phu-nghia", "Phu Nghia"))]
# Reachable without signing in: what SPEC allows (/public/…, /login, static files) and the
# health probe (it tells nothing but "ok").
ANONYMOUS = {"/healthz", "/login", "/public/", "/public/{plant_id}", "/public/{plant_id}/board",
             "/public/{plant_id}/board/values", "/api/v1/public/{plant_id}", "/static/{path}"}
SAMPLE = {"plant_id": "kim-bai", "alert_id": "A-000001", "path": "console.css",
          "cluster_id": "kim-bai"}


class NoDocuments:
    """Downloads are not exercised in process (they read InfluxDB: see test_data_pages.py)."""

    def report(self, *_args: object) -> Document:
        raise AssertionError("no report expected here")

    def circular10(self, *_args: object) -> Document:
        raise AssertionError("no export expected here")


def sources(state: Path, manager: AlertManager) -> Sources:
    return Sources(alerts=manager, results=CheckBook(state), readings=MemoryStore(),
                   documents=NoDocuments())


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("console-app")


@pytest.fixture(scope="module")
def manager(state: Path) -> Iterator[AlertManager]:
    from alerts.settings import AlertSettings

    manager = AlertManager(AlertSettings.model_validate(
        {"channels": {"terminal": {"type": "terminal"}}}), PLANTS, state)
    now = datetime.now(UTC)
    manager.observe([finding("kim-bai", "cod", 151.2, 135.0, "major", now),
                     finding("phu-nghia", "cod", 190.0, 135.0, "major", now)], [], now)
    accounts = Accounts(Database(state))
    accounts.add("admin", "admin", PASSWORDS["admin"], now)
    accounts.add("op-a", "operator", PASSWORDS["op-a"], now, plants=["kim-bai"])
    accounts.add("reg", "regulator", PASSWORDS["reg"], now)
    yield manager
    manager.close()


@pytest.fixture(scope="module")
def app(state: Path, manager: AlertManager) -> Starlette:
    return create_app(WebSettings(login_max_failures_user=3), PLANTS, sources(state, manager),
                      state)


@pytest.fixture
def anonymous(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as client:
        yield client


def csrf_of(client: TestClient, path: str = "/") -> str:
    match = re.search(r'name="csrf-token" content="([^"]*)"', client.get(path).text)
    assert match
    return match.group(1)


@pytest.fixture(scope="module")
def session(app: Starlette) -> Iterator[object]:
    """A signed-in client per user, made once per module (an argon2id check is slow on
    purpose); tests that end their session sign in with `signed_in` instead."""
    made: dict[str, TestClient] = {}

    def get(user: str) -> TestClient:
        if user not in made:
            made[user] = signed_in(app, user)
        return made[user]

    yield get


def signed_in(app: Starlette, user: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    token = csrf_of(client, "/login")
    response = client.post("/login", data={"username": user, "password": PASSWORDS[user],
                                           "csrf_token": token})
    assert response.status_code == 303, response.text
    return client


def routes_of(app: Starlette) -> list[tuple[str, str]]:
    """(path template, method) of every route the application has."""
    found = []
    for route in app.routes:
        if isinstance(route, Route):
            found += [(route.path, m) for m in sorted(route.methods or []) if m != "HEAD"]
        elif isinstance(route, Mount):
            found.append((route.path + "/{path}", "GET"))
    return found


def test_every_route_but_the_public_ones_refuses_anonymous_access(
    app: Starlette, anonymous: TestClient
) -> None:
    routes = routes_of(app)
    assert len(routes) >= 12
    reachable = set()
    for template, method in routes:
        path = template
        for name, value in SAMPLE.items():
            path = path.replace("{" + name + "}", value)
        response = anonymous.request(method, path)
        if path.startswith("/api/"):
            refused = response.status_code == 401 and response.json()["status"] == 401
        else:
            refused = (response.status_code == 303
                       and response.headers["location"].startswith("/login?next="))
        if not refused:
            reachable.add(template)
            assert response.status_code < 400 or template == "/login", (method, path)
    assert reachable == ANONYMOUS


def test_an_unknown_path_is_refused_before_it_is_looked_up(anonymous: TestClient) -> None:
    assert anonymous.get("/admin/secret").status_code == 303
    assert anonymous.get("/api/v2/anything").status_code == 401
    bare = anonymous.get("/public")
    assert bare.status_code == 307 and bare.headers["location"].endswith("/public/")


def test_security_headers_and_csp_without_inline_code(anonymous: TestClient) -> None:
    response = anonymous.get("/login")
    assert response.headers["content-security-policy"] == CSP
    assert "'unsafe-inline'" not in CSP and "'unsafe-eval'" not in CSP
    assert "script-src 'self'" in CSP and "style-src 'self'" in CSP
    for name, value in {"x-content-type-options": "nosniff", "x-frame-options": "DENY",
                        "referrer-policy": "same-origin",
                        "cross-origin-opener-policy": "same-origin",
                        "cache-control": "no-store"}.items():
        assert response.headers[name] == value, name
    assert "strict-transport-security" not in response.headers  # no TLS in this setting
    assert anonymous.get("/static/console.css").headers["content-security-policy"] == CSP


class _InlineFinder(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, style elements/attributes and
    event-handler attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> element")
        self.problems += [f"{tag} {name}=" for name in names
                          if name == "style" or name.startswith("on")]


def test_no_page_has_inline_script_or_style(session: Any) -> None:
    client = session("admin")
    for path in ("/", "/plants/kim-bai", "/plants/kim-bai/live", "/clusters/kim-bai",
                 "/alerts", "/alerts?state=open", "/alerts/list", "/public/",
                 "/public/kim-bai", "/public/kim-bai/board", "/public/kim-bai/board/values",
                 "/plants/nowhere"):
        finder = _InlineFinder()
        finder.feed(client.get(path).text)
        assert finder.problems == [], path
    scripts = re.findall(r'<script src="([^"]+)"', client.get("/").text)
    assert scripts and all(s.startswith("/static/") for s in scripts)
    for src in scripts:
        assert client.get(src).status_code == 200


def test_session_cookie_is_signed_httponly_samesite_and_ends_at_sign_out(
    app: Starlette,
) -> None:
    client = TestClient(app, follow_redirects=False)
    token = csrf_of(client, "/login")
    response = client.post("/login", data={"username": "op-a", "password": PASSWORDS["op-a"],
                                           "csrf_token": token, "next": "//evil.example/x"})
    assert response.headers["location"] == "/"  # never sent to another site
    from console.gate import safe_next

    assert [safe_next(t) for t in ("/alerts?state=open", "/logout", "https://x", "/\\x")] == [
        "/alerts?state=open", "/", "/", "/"]
    cookie = next(c for c in response.headers.get_list("set-cookie")
                  if c.startswith("quantrac_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    assert client.get("/").status_code == 200
    forged = TestClient(app, follow_redirects=False)
    forged.cookies.set("quantrac_session", value[:-3] + "abc")
    assert forged.get("/").status_code == 303  # a tampered signature is nobody
    out = client.post("/logout", data={"csrf_token": csrf_of(client)})
    assert out.status_code == 303 and out.headers["location"] == "/login?bye=1"
    replay = TestClient(app, follow_redirects=False)
    replay.cookies.set("quantrac_session", value)
    assert replay.get("/").status_code == 303  # the kept cookie is worthless after sign-out


def test_secure_cookies_under_tls(state: Path, manager: AlertManager) -> None:
    secure = create_app(WebSettings(secure_cookies=True), PLANTS, sources(state, manager), state)
    with TestClient(secure, base_url="https://testserver", follow_redirects=False) as client:
        page = client.get("/login")
        cookie = page.headers["set-cookie"]
        assert cookie.startswith("__Host-quantrac_login=") and "Secure" in cookie
        assert page.headers["strict-transport-security"].startswith("max-age=")


def test_disabling_a_user_ends_its_session_and_tokens(app: Starlette, state: Path) -> None:
    accounts = Accounts(Database(state))
    accounts.add("temp", "regulator", "temporary-pass", datetime.now(UTC))
    PASSWORDS["temp"] = "temporary-pass"
    client = signed_in(app, "temp")
    token = accounts.issue_token("temp", datetime.now(UTC))
    api = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    assert api.get("/api/v1/plants").status_code == 200
    assert token not in (state / "console.sqlite").read_bytes().decode("latin-1")
    accounts.disable("temp", datetime.now(UTC))
    assert client.get("/").status_code == 303
    assert api.get("/api/v1/plants").status_code == 401


def test_bearer_tokens_answer_the_api_only(app: Starlette, state: Path) -> None:
    token = Accounts(Database(state)).issue_token("op-a", datetime.now(UTC))
    api = TestClient(app, follow_redirects=False,
                     headers={"Authorization": f"Bearer {token}"})
    plants = api.get("/api/v1/plants").json()["plants"]
    assert [p["id"] for p in plants] == ["kim-bai"] and plants[0]["status"] == "exceedance"
    alerts = api.get("/api/v1/alerts?open=1").json()["alerts"]
    assert {a["plant"] for a in alerts} == {"kim-bai"}
    assert api.get("/api/v1/alerts?plant=phu-nghia").status_code == 403
    assert api.get("/").status_code == 303  # a token is no page session
    wrong = TestClient(app, headers={"Authorization": "Bearer qt_nope"})
    assert wrong.get("/api/v1/plants").status_code == 401


def test_csrf_token_in_a_header_or_form_field_and_nowhere_else(app: Starlette) -> None:
    client = signed_in(app, "reg")
    token = csrf_of(client)
    assert client.post("/logout", headers={"X-CSRF-Token": "x" + token}).status_code == 403
    assert client.post("/logout", json={"csrf_token": token}).status_code == 303
    client = signed_in(app, "reg")
    assert client.post("/logout", headers={"X-CSRF-Token": csrf_of(client)}).status_code == 303


def test_sign_in_form_without_its_token_gets_a_fresh_form(anonymous: TestClient) -> None:
    response = anonymous.post("/login", data={"username": "op-a", "password": "x"})
    assert response.status_code == 403
    assert "Biểu mẫu đã hết hạn" in response.text and "quantrac_login=" in (
        response.headers["set-cookie"])


def test_wrong_password_401_then_lock_429(app: Starlette, state: Path) -> None:
    Accounts(Database(state)).add("victim", "regulator", "victim-password",
                                  datetime.now(UTC))
    client = TestClient(app, follow_redirects=False)
    token = csrf_of(client, "/login")

    def attempt(password: str) -> int:
        return client.post("/login", data={"username": "victim", "password": password,
                                           "csrf_token": token}).status_code

    assert [attempt("bad"), attempt("bad")] == [401, 401]
    assert attempt("bad") == 429  # the third failure locks (limit 3 here)
    assert attempt("victim-password") == 429
    assert client.get("/").status_code == 303


@pytest.mark.parametrize(("path", "status", "needle"), [
    ("/alerts?state=bogus", 400, "Tình trạng không hợp lệ: bogus."),
    ("/alerts?plant=nowhere", 404, "Không có cơ sở nào mang mã nowhere."),
    ("/alerts?plant=phu-nghia", 403, "nằm ngoài phạm vi"),
    ("/alerts?color=red", 400, "Tham số không được hỗ trợ: color."),
    ("/plants/phu-nghia", 403, "nằm ngoài phạm vi"),
    ("/plants/nowhere", 404, "nowhere"),
    ("/api/v1/alerts?open=maybe", 400, "open: expected 1 or 0, got 'maybe'"),
    ("/api/v1/alerts?plant=nowhere", 404, "no plant 'nowhere'"),
    ("/nothing-here", 404, "Không tìm thấy"),
])
def test_answers_for_bad_requests(session: Any, path: str, status: int, needle: str) -> None:
    client = session("op-a")
    response = client.get(path)
    assert response.status_code == status
    assert needle in response.text


@pytest.mark.parametrize(("ident", "form", "status"), [
    ("banana", {"reason": "maintenance"}, 400),
    ("A-999999", {"reason": "maintenance"}, 404),
    ("A-000001", {"reason": "coffee"}, 400),
    ("A-000001", {"reason": "other"}, 400),
    ("A-000001", {"reason": "other", "note": "x" * 501}, 400),
    ("A-000002", {"reason": "maintenance"}, 403),  # phu-nghia: outside op-a's scope
])
def test_bad_acknowledgements_change_nothing(
    session: Any, manager: AlertManager, ident: str, form: dict[str, str], status: int
) -> None:
    client = session("op-a")
    response = client.post(f"/alerts/{ident}/ack", data={**form, "csrf_token": csrf_of(client)})
    assert response.status_code == status
    assert not any(a.acknowledged for a in manager.list_alerts())


def test_an_oversized_post_is_refused(session: Any) -> None:
    client = session("op-a")
    response = client.post("/alerts/A-000001/ack", data={"note": "x" * 70_000})
    assert response.status_code == 413


def test_marker_grows_when_the_book_changes(session: Any, manager: AlertManager) -> None:
    client = session("reg")
    before = client.get("/alerts/marker").json()["marker"]
    now = datetime.now(UTC) + timedelta(seconds=1)
    manager.observe([finding("kim-bai", "tss", 99.0, 90.0, "major", now)], [], now)
    import time

    time.sleep(0.6)  # the marker is cached for 0.5 s for all pages
    assert client.get("/alerts/marker").json()["marker"] > before


def test_language_choice_is_a_cookie(anonymous: TestClient) -> None:
    english = anonymous.get("/public/?lang=en")
    assert "Automatic monitoring results, published" in english.text
    assert "quantrac_lang=en" in english.headers["set-cookie"]
    assert "Automatic monitoring results" in anonymous.get("/public/").text
    assert 'lang="vi"' in anonymous.get("/public/?lang=vi").text


def test_health_probe(anonymous: TestClient) -> None:
    assert anonymous.get("/healthz").json() == {"status": "ok"}


def test_both_languages_have_the_same_words() -> None:
    vi, en = load_words("vi"), load_words("en")
    assert vi.keys == en.keys
    assert vi.format_decimal(1500.5) == "1.500,5" and en.format_decimal(1500.5) == "1,500.5"
    moment = datetime(2026, 10, 1, 7, 5, tzinfo=UTC)
    from zoneinfo import ZoneInfo

    assert vi.format_datetime(moment, ZoneInfo("Asia/Ho_Chi_Minh")) == "01/10/2026 14:05"
    assert vi.designation("qcvn40-2011") == "QCVN 40:2011/BTNMT"
    for reason in ("maintenance", "calibration", "process_upset", "sensor_fault",
                   "false_alarm", "other"):
        assert vi.reason(reason) != reason and en.reason(reason) != reason


def test_vendored_libraries_carry_their_licences() -> None:
    vendor = Path(__file__).resolve().parents[2] / "console" / "static" / "vendor"
    notes = (vendor / "README.md").read_text()
    for folder, version in (("htmx-2.0.11", "2.0.11"), ("uplot-1.6.32", "1.6.32")):
        assert (vendor / folder / "LICENSE").stat().st_size > 100
        assert f"| {version} |" in notes
    assert (vendor / "htmx-2.0.11" / "htmx.min.js").read_text().count("2.0.11") >= 1
