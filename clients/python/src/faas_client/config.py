"""Where a client finds its server and key: arguments, then ``FAAS_URL`` /
``FAAS_TOKEN``, then the ``faas`` CLI's credentials file, read exactly as
the CLI reads it (client/src/credentials.rs)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional, Tuple

DEFAULT_URL = "http://127.0.0.1:8000"


def config_dir() -> Path:
    """``$FAAS_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/faas``, else ``~/.config/faas``."""
    d = os.environ.get("FAAS_CONFIG_DIR")
    if d:
        return Path(d)
    d = os.environ.get("XDG_CONFIG_HOME")
    if d:
        return Path(d) / "faas"
    home = os.environ.get("HOME")
    return (Path(home) if home else Path(".")) / ".config" / "faas"


def credentials_file() -> Path:
    """The file of API tokens by server URL, in :func:`config_dir`."""
    return config_dir() / "credentials"


def normalize_url(url: str) -> str:
    """A server URL as the credentials file names it: no trailing slash,
    ``localhost`` as ``127.0.0.1``, the scheme in lower case."""
    url = url.strip().rstrip("/")
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    if rest.startswith("localhost"):
        rest = "127.0.0.1" + rest[len("localhost"):]
    return f"{scheme.lower()}://{rest}"


def _sections(text: str) -> List[Tuple[str, Optional[str]]]:
    sections: List[Tuple[str, Optional[str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line.startswith(";"):
            continue
        if line.startswith("[") and line.endswith("]") and len(line) >= 2:
            sections.append((line[1:-1].strip(), None))
        elif "=" in line:
            key, _, value = line.partition("=")
            if key.strip() == "token" and sections:
                sections[-1] = (sections[-1][0], value.strip())
    return sections


def token_in(text: str, url: str) -> Optional[str]:
    """The token a credentials file's text holds for ``url``, else its
    ``[default]`` section's; the last section of a name wins."""
    sections = _sections(text)

    def find(name: str) -> Optional[str]:
        for section, token in reversed(sections):
            if token is not None and normalize_url(section) == name:
                return token
        return None

    found = find(normalize_url(url))
    return found if found is not None else find("default")


def token_for(url: str) -> Optional[str]:
    """The token the credentials file saves for ``url`` (None without one)."""
    try:
        text = credentials_file().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return token_in(text, url)


def resolve(url: Optional[str], token: Optional[str]) -> Tuple[str, Optional[str]]:
    """The server URL and token a client uses: the arguments, else
    ``FAAS_URL`` / ``FAAS_TOKEN``, else the credentials file's token for the
    URL, else ``http://127.0.0.1:8000`` (and no token)."""
    url = url or os.environ.get("FAAS_URL") or DEFAULT_URL
    url = url.strip().rstrip("/")
    if "://" not in url:
        raise ValueError(f"invalid server URL {url!r}: give http://HOST:PORT or https://...")
    if token is None:
        token = os.environ.get("FAAS_TOKEN") or token_for(url)
    return url, token
