"""Users, roles and bearer tokens: shown once, stored hashed, revocable."""

import pytest
import sqlalchemy as sa

from siteselect import accounts
from siteselect.cli import main
from siteselect.errors import InvalidInputError, NotFoundError
from siteselect.load import load_file
from siteselect.store import Store


@pytest.fixture
def store(sqlite_url, demo_files) -> Store:
    s = Store(sqlite_url)
    load_file(s, "parks", demo_files["parks"])
    return s


def test_a_token_authenticates_until_revoked(store):
    accounts.add_user(store, "创新园运营", "operator", ["park-001"])
    token, token_id = accounts.create_token(store, "创新园运营", "office")
    user = accounts.authenticate(store, token)
    assert user is not None and (user.name, user.role, user.parks) == (
        "创新园运营",
        "operator",
        ("park-001",),
    )
    assert accounts.authenticate(store, token + "x") is None
    assert accounts.authenticate(store, "not-a-token") is None
    accounts.revoke_token(store, token_id)
    assert accounts.authenticate(store, token) is None
    with pytest.raises(NotFoundError, match="no active token"):
        accounts.revoke_token(store, token_id)


def test_tokens_are_stored_only_hashed(store):
    accounts.add_user(store, "窗口", "clerk")
    token, _ = accounts.create_token(store, "窗口")
    with store.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT token_hash FROM tokens")).scalars().all()
    assert token not in stored and len(stored[0]) == 64
    assert all(token not in str(t) for t in accounts.tokens(store))


@pytest.mark.parametrize(
    ("name", "role", "parks", "words"),
    [
        ("x", "king", [], "role 'king' is not one of"),
        ("x", "operator", [], "at least one park"),
        ("x", "operator", ["park-999"], "parks: unknown"),
        ("x", "clerk", ["park-001"], "only operators"),
        ("  ", "clerk", [], "needs a name"),
    ],
)
def test_bad_users_are_refused(store, name, role, parks, words):
    with pytest.raises(InvalidInputError, match=words):
        accounts.add_user(store, name, role, parks)
    assert accounts.users(store) == []


def test_command_line_shows_the_token_once(sqlite_url, demo_files, capsys):
    assert main(["--database-url", sqlite_url, "load", "parks", str(demo_files["parks"])]) == 0
    assert (
        main(
            [
                "--database-url",
                sqlite_url,
                "users",
                "add",
                "运营甲",
                "--role",
                "operator",
                "--park",
                "park-002",
            ]
        )
        == 0
    )
    assert main(["--database-url", sqlite_url, "tokens", "create", "运营甲", "--label", "laptop"]) == 0
    out = capsys.readouterr().out
    token = out.strip().splitlines()[-1]
    assert token.startswith("ss_")
    assert main(["--database-url", sqlite_url, "tokens", "list"]) == 0
    listing = capsys.readouterr().out
    assert "运营甲" in listing and "active" in listing and token not in listing
    assert main(["--database-url", sqlite_url, "users", "add", "运营甲", "--role", "clerk"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_a_name_fits_the_users_table_and_the_audit_log(store):
    longest = "运" * accounts.NAME_MAX
    assert accounts.add_user(store, longest, "operator", ["park-001"]).name == longest
    with pytest.raises(InvalidInputError, match="at most 100 characters, not 101"):
        accounts.add_user(store, "运" * 101, "clerk")
    for bad in ("a\x00b", "a\udcffb", "a\nb"):
        with pytest.raises(InvalidInputError, match="is not text"):
            accounts.add_user(store, bad, "clerk")
    assert [u.name for u in accounts.users(store)] == [longest]


def test_command_line_sets_a_password_read_from_stdin(sqlite_url, monkeypatch, capsys):
    import io

    from siteselect import sessions

    assert main(["--database-url", sqlite_url, "users", "add", "管理员", "--role", "admin"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("一个足够长的管理员密码\n"))
    assert main(["--database-url", sqlite_url, "users", "password", "管理员"]) == 0
    assert "password set" in capsys.readouterr().out
    store = Store(sqlite_url)
    assert sessions.sign_in(store, "管理员", "一个足够长的管理员密码").user.role == "admin"
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["--database-url", sqlite_url, "users", "password", "管理员"]) == 2
    assert "at least 10" in capsys.readouterr().err
