"""The credentials file is read as the faas CLI reads it (client/src/credentials.rs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from faas_client.config import DEFAULT_URL, config_dir, credentials_file, resolve, token_in

TEXT = "# comment\n[http://127.0.0.1:8000]\ntoken = a\n\n[https://api.example:443/]\ntoken=b\n"


def test_tokens_are_found_by_server_url() -> None:
    assert token_in(TEXT, "http://127.0.0.1:8000") == "a"
    assert token_in(TEXT, "http://localhost:8000/") == "a"
    assert token_in(TEXT, "HTTP://127.0.0.1:8000") == "a"
    assert token_in(TEXT, "https://api.example:443") == "b"
    assert token_in(TEXT, "http://127.0.0.1:9000") is None
    with_default = TEXT + "[default]\ntoken = d\n"
    assert token_in(with_default, "http://127.0.0.1:9000") == "d"
    # The last section of a name wins; a section without a token is skipped.
    assert token_in(TEXT + "[http://127.0.0.1:8000]\ntoken = newer\n", "http://127.0.0.1:8000") == "newer"
    assert token_in(TEXT + "[http://127.0.0.1:8000]\n", "http://127.0.0.1:8000") == "a"


def test_config_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FAAS_CONFIG_DIR", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert config_dir() == tmp_path / "home" / ".config" / "faas"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_dir() == tmp_path / "xdg" / "faas"
    monkeypatch.setenv("FAAS_CONFIG_DIR", str(tmp_path / "explicit"))
    assert credentials_file() == tmp_path / "explicit" / "credentials"


def test_resolve(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FAAS_CONFIG_DIR", str(tmp_path))
    monkeypatch.delenv("FAAS_URL", raising=False)
    monkeypatch.delenv("FAAS_TOKEN", raising=False)
    assert resolve(None, None) == (DEFAULT_URL, None)
    (tmp_path / "credentials").write_text(TEXT)
    assert resolve(None, None) == (DEFAULT_URL, "a")
    assert resolve("http://127.0.0.1:9000", None) == ("http://127.0.0.1:9000", None)
    assert resolve("http://localhost:8000/", None) == ("http://localhost:8000", "a")
    monkeypatch.setenv("FAAS_URL", "https://api.example:443")
    assert resolve(None, None) == ("https://api.example:443", "b")
    monkeypatch.setenv("FAAS_TOKEN", "env")
    assert resolve(None, None)[1] == "env"
    assert resolve(None, "arg")[1] == "arg"
    with pytest.raises(ValueError):
        resolve("127.0.0.1:8000", None)
