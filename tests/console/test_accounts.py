"""Accounts, scopes, sessions and the sign-in throttle, on a real console database."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from console.accounts import Accounts, User, check_account
from console.audit import AuditEntry, AuditLog
from console.database import Database
from console.errors import AccountError, ConsoleError, Forbidden, NotFound
from console.scope import Directory, Scope
from console.sessions import Sessions, load_or_create_secret, same_token
from console.throttle import LoginThrottle
from rules.permit import Plant
from tests.console.conftest import plant_doc

T0 = datetime(2026, 10, 5, 3, 0, tzinfo=UTC)
PLANTS = [Plant.model_validate(plant_doc(pid, cluster, pid)) for pid, cluster in
          (("a1", "north"), ("a2", "north"), ("b1", "south"))]
# Cheap parameters: these tests are about the store, not about argon2's cost.
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(tmp_path)


@pytest.mark.parametrize(("user", "visible", "may_ack"), [
    (User("adm", "admin"), {"a1", "a2", "b1"}, {"a1", "a2", "b1"}),
    (User("r", "regulator"), {"a1", "a2", "b1"}, set()),
    (User("rn", "regulator", clusters=("north",)), {"a1", "a2"}, set()),
    (User("o", "operator", plants=("a1",)), {"a1"}, {"a1"}),
    (User("oc", "operator", plants=("b1",), clusters=("north",)), {"a1", "a2", "b1"},
     {"a1", "a2", "b1"}),
])
def test_scopes(user: User, visible: set[str], may_ack: set[str]) -> None:
    scope = Scope(user, Directory(PLANTS))
    assert set(scope.plant_ids()) == visible
    assert {p.id for p in PLANTS if scope.may_ack(p)} == may_ack
    for plant in PLANTS:
        if plant.id not in visible:
            with pytest.raises(Forbidden):
                scope.plant(plant.id)
    with pytest.raises(NotFound):
        scope.plant("nowhere")
    if user.role == "regulator":
        with pytest.raises(Forbidden, match="regulators do not acknowledge"):
            scope.check_ack("a1")


@pytest.mark.parametrize(("args", "message"), [
    (("Bad Name", "admin", [], []), "NAME: 'Bad Name' is not a user name"),
    (("x", "boss", [], []), "--role: unknown role 'boss'"),
    (("x", "operator", ["zz"], []), "--plants: zz not in the config"),
    (("x", "operator", [], ["east"]), "--clusters: east not in the config"),
    (("x", "operator", [], []), "an operator needs --plants or --clusters"),
    (("x", "regulator", ["a1"], []), "a regulator is scoped by --clusters"),
    (("x", "admin", [], ["north"]), "an admin sees every plant"),
])
def test_bad_accounts_name_the_field(args: tuple, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(AccountError, match=message):
        check_account(*args, known_plants=["a1", "a2", "b1"], known_clusters=["north", "south"])


def test_passwords_are_argon2id_and_verified(db: Database) -> None:
    accounts = Accounts(db, FAST)
    user = accounts.add("lan", "operator", "long-enough-1", T0, plants=["a1"])
    assert user == User("lan", "operator", ("a1",), (), False, T0)
    stored = db.rows("SELECT password_hash FROM users")[0][0]
    assert stored.startswith("$argon2id$") and "long-enough-1" not in stored
    assert accounts.verify("lan", "long-enough-1") == user
    assert accounts.verify("lan", "wrong") is None
    assert accounts.verify("ghost", "long-enough-1") is None
    with pytest.raises(AccountError, match="already exists"):
        accounts.add("lan", "admin", "long-enough-2", T0)
    with pytest.raises(AccountError, match="at least 10"):
        accounts.add("hai", "admin", "short", T0)


def test_weaker_hashes_are_upgraded_at_sign_in(db: Database) -> None:
    Accounts(db, FAST).add("lan", "admin", "long-enough-1", T0)
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    assert Accounts(db, stronger).verify("lan", "long-enough-1") is not None
    assert "t=2" in db.rows("SELECT password_hash FROM users")[0][0]


def test_disabled_users_neither_sign_in_nor_use_tokens(db: Database) -> None:
    accounts = Accounts(db, FAST)
    accounts.add("lan", "regulator", "long-enough-1", T0)
    token = accounts.issue_token("lan", T0)
    assert token.startswith("qt_") and accounts.user_for_token(token) is not None
    assert db.rows("SELECT digest FROM tokens")[0][0] != token
    accounts.disable("lan", T0)
    assert accounts.verify("lan", "long-enough-1") is None
    assert accounts.user_for_token(token) is None
    with pytest.raises(AccountError, match="disabled"):
        accounts.issue_token("lan", T0)
    with pytest.raises(AccountError, match="no user 'ghost'"):
        accounts.disable("ghost", T0)


def test_sessions_end_when_idle_too_old_or_signed_out(db: Database) -> None:
    accounts = Accounts(db, FAST)
    user = accounts.add("lan", "admin", "long-enough-1", T0)
    sessions = Sessions(db, accounts, b"k" * 64, idle=timedelta(minutes=30),
                        max_age=timedelta(hours=8))
    cookie, session = sessions.start(user, T0)
    assert sessions.find(cookie, T0 + timedelta(minutes=20)) == session
    assert sessions.find(cookie, T0 + timedelta(minutes=45)) == session  # seen at +20 min
    assert sessions.find(cookie, T0 + timedelta(minutes=80)) is None  # idle 35 min
    cookie, session = sessions.start(user, T0)
    sessions.end(cookie)
    assert sessions.find(cookie, T0) is None
    other = Sessions(db, accounts, b"x" * 64, idle=timedelta(minutes=30),
                     max_age=timedelta(hours=8))
    cookie, _ = sessions.start(user, T0)
    assert other.find(cookie, T0) is None  # signed with another key
    assert same_token(session.csrf, session.csrf) and not same_token(session.csrf, None)
    assert db.rows("SELECT digest FROM sessions")[0][0] not in cookie


def test_throttle_locks_per_account_and_per_address(db: Database) -> None:
    throttle = LoginThrottle(db, max_per_user=3, max_per_address=5,
                             window=timedelta(minutes=15))
    for minute in range(3):
        assert throttle.locked_until("lan", "10.0.0.1", T0) is None
        throttle.failed("lan", "10.0.0.1", T0 + timedelta(minutes=minute))
    assert throttle.locked_until("lan", "10.0.0.9", T0) == T0 + timedelta(minutes=17)
    assert throttle.locked_until("hai", "10.0.0.9", T0) is None
    for name in ("a", "b"):
        throttle.failed(name, "10.0.0.1", T0 + timedelta(minutes=3))
    assert throttle.locked_until("hai", "10.0.0.1", T0) is not None  # 5 from this address
    assert throttle.locked_until("lan", "10.0.0.9", T0 + timedelta(minutes=18)) is None
    throttle.succeeded("lan")
    assert throttle.locked_until("lan", "10.0.0.9", T0) is None


def test_audit_log_keeps_entries_newest_first(db: Database) -> None:
    log = AuditLog(db)
    log.record(AuditEntry(T0, "login", "lan", address="10.0.0.1"))
    log.record(AuditEntry(T0 + timedelta(seconds=1), "ack", "lan", "A-000001", detail="other"))
    assert [(e.action, e.target) for e in log.entries()] == [("ack", "A-000001"),
                                                             ("login", "")]
    with pytest.raises(ValueError, match="unknown audit action"):
        log.record(AuditEntry(T0, "coffee", "lan"))


def test_console_files_are_private(tmp_path: Path) -> None:
    Database(tmp_path)
    key = load_or_create_secret(tmp_path / "console.key")
    assert load_or_create_secret(tmp_path / "console.key") == key and len(key) == 64
    for name in ("console.sqlite", "console.key"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600, name
    (tmp_path / "short.key").write_text("abc\n")
    with pytest.raises(ConsoleError, match="too short"):
        load_or_create_secret(tmp_path / "short.key")
