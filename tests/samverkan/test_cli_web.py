"""`samverkan user add` and `samverkan serve`: one-line Swedish errors, exit 2, nothing written."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, func, select

from engine import db, users
from engine.models import User
from samverkan.cli import main

EXE = Path(sys.executable).parent / "samverkan"
BORAS = Path(__file__).resolve().parents[2] / "config" / "boras-2015.yaml"


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def user_count(engine: Engine) -> int:
    with db.transaction(engine) as s:
        return s.scalar(select(func.count()).select_from(User)) or 0


def test_user_add_creates_a_user_with_an_argon2id_hash_of_the_password_from_the_environment(
    boras_due: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(users, "_hasher", PasswordHasher())  # the real parameters
    monkeypatch.setenv("SAMVERKAN_PASSWORD", "ett långt lösenord")
    argv = ["user", "add", "Kalle@Polisen.example", "--db", url_of(boras_due), "--role", "party", "--party", "polis"]
    assert main([*argv, "--name", "Kalle Karlsson"]) == 0
    assert "Användaren kalle@polisen.example skapad (party för polis)" in capsys.readouterr().out
    with db.transaction(boras_due) as s:
        user = s.scalars(select(User).where(User.email == "kalle@polisen.example")).one()
        assert (user.role, user.party, user.unit, user.name) == ("party", "polis", None, "Kalle Karlsson")
        assert user.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert PasswordHasher().verify(user.password_hash, "ett långt lösenord")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ny@boras.example", "--role", "admin"], "--role: 'admin' (giltiga: owner, party, unit)"),
        (["ny@boras.example", "--role", "unit"], "--unit: krävs för --role unit"),
        (
            ["ny@boras.example", "--role", "unit", "--unit", "polisen"],
            "--unit: okänd enhet 'polisen' (enheter: arbetsliv",
        ),
        (
            ["ny@boras.example", "--role", "party", "--party", "skolan"],
            "--party: okänd part 'skolan' (parter: kommun, polis)",
        ),
        (["ny@boras.example", "--role", "owner", "--unit", "brab"], "--unit: gäller bara --role unit"),
        (["inte-en-adress", "--role", "owner"], "E-POST: 'inte-en-adress' är ingen giltig e-postadress"),
        (["Anna.Andersson@boras.example", "--role", "owner"], "användaren anna.andersson@boras.example finns redan"),
    ],
)
def test_user_add_refuses_bad_input_with_one_line_and_writes_nothing(
    boras_due: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("SAMVERKAN_PASSWORD", "ett långt lösenord")
    before = user_count(boras_due)
    assert main(["user", "add", *args, "--db", url_of(boras_due)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("samverkan: fel: ") and message in err and err.count("\n") == 1
    assert user_count(boras_due) == before


def test_user_add_refuses_a_short_password(
    boras_due: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SAMVERKAN_PASSWORD", "kort")
    assert main(["user", "add", "ny@boras.example", "--role", "owner", "--db", url_of(boras_due)]) == 2
    assert "lösenordet: ska vara minst 10 tecken" in capsys.readouterr().err


def test_user_add_asks_for_the_password_twice_in_a_terminal(
    boras_due: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SAMVERKAN_PASSWORD", raising=False)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    answers = iter(["första lösenordet", "ett annat lösenord", "samma lösenord", "samma lösenord"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    argv = ["user", "add", "ny@boras.example", "--role", "owner", "--db", url_of(boras_due)]
    assert main(argv) == 2
    assert "de två lösenorden är olika" in capsys.readouterr().err
    assert main(argv) == 0
    assert user_count(boras_due) == 5


def test_user_add_without_a_terminal_or_password_says_how(
    boras_due: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SAMVERKAN_PASSWORD", raising=False)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    assert main(["user", "add", "ny@boras.example", "--role", "owner", "--db", url_of(boras_due)]) == 2
    assert "sätt SAMVERKAN_PASSWORD" in capsys.readouterr().err


def test_serve_on_a_database_that_is_not_initialised_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--db", f"sqlite:///{tmp_path / 'tom.db'}"]) == 2
    err = capsys.readouterr().err
    assert "databasen är inte initierad" in err and err.count("\n") == 1


def test_serve_with_a_bad_rehearsal_time_is_one_line(boras_due: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--db", url_of(boras_due), "--from", "i morgon"]) == 2
    err = capsys.readouterr().err
    assert "--from: ogiltig tidpunkt 'i morgon'" in err and err.count("\n") == 1


def test_serve_on_a_taken_port_is_one_line(boras_due: Engine, kit: Any, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["serve", "--db", url_of(boras_due), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"--port: kan inte lyssna på 127.0.0.1:{port}" in err and err.count("\n") == 1


def test_serve_runs_the_web_until_sigterm(tmp_path: Path, kit: Any, read_until: Callable[..., str]) -> None:
    url = f"sqlite:///{tmp_path / 'web.db'}"
    assert subprocess.run([EXE, "init", "--db", url, "--config", BORAS], capture_output=True).returncode == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [EXE, "serve", "--db", url, "--port", str(port)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        seen = read_until(proc, f"webben på http://127.0.0.1:{port}/")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/logga-in", timeout=10) as response:
            assert response.status == 200 and "Logga in" in response.read().decode()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        assert proc.stderr is not None
        rest = proc.stderr.read()  # through the reader read_until used, so nothing it buffered is lost
    finally:
        proc.kill() if proc.poll() is None else None
    assert proc.returncode == 0 and "Traceback" not in seen + rest
    assert "inga användare ännu; skapa processägaren med 'samverkan user add" in seen + rest


# -- user passwd, user remove ----------------------------------------------------------------


@pytest.mark.parametrize("step", ["passwd", "remove"])
def test_user_passwd_and_remove_name_an_unknown_user_in_one_line(
    boras_due: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], step: str
) -> None:
    monkeypatch.setenv("SAMVERKAN_PASSWORD", "ett långt lösenord")
    assert main(["user", step, "ingen@boras.example", "--db", url_of(boras_due)]) == 2
    err = capsys.readouterr().err
    assert err == "samverkan: fel: E-POST: ingen användare med adressen ingen@boras.example\n"
    assert user_count(boras_due) == 4


def test_user_passwd_sets_a_new_argon2id_hash_and_refuses_a_short_password(
    boras_due: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["user", "passwd", "Fritid@Boras.example", "--db", url_of(boras_due)]
    monkeypatch.setenv("SAMVERKAN_PASSWORD", "kort")
    assert main(argv) == 2
    assert "lösenordet: ska vara minst 10 tecken" in capsys.readouterr().err
    monkeypatch.setattr(users, "_hasher", PasswordHasher())  # the real parameters
    monkeypatch.setenv("SAMVERKAN_PASSWORD", "ett nytt långt lösenord")
    assert main(argv) == 0
    assert "Lösenordet för fritid@boras.example är bytt" in capsys.readouterr().out
    with db.transaction(boras_due) as s:
        user = s.scalars(select(User).where(User.email == "fritid@boras.example")).one()
        assert user.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert PasswordHasher().verify(user.password_hash, "ett nytt långt lösenord")


def test_user_passwd_asks_for_the_password_twice_in_a_terminal(
    boras_due: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SAMVERKAN_PASSWORD", raising=False)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    answers = iter(["första lösenordet", "ett annat lösenord"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    assert main(["user", "passwd", "fritid@boras.example", "--db", url_of(boras_due)]) == 2
    assert "de två lösenorden är olika" in capsys.readouterr().err


def test_user_remove_removes_the_user(boras_due: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["user", "remove", "fritid@boras.example", "--db", url_of(boras_due)]) == 0
    assert "Användaren fritid@boras.example är borttagen" in capsys.readouterr().out
    assert user_count(boras_due) == 3
