"""Secrets come only from settings: none is committed to the repository, and production
refuses to start without a strong ``PLAZA_SECRET_KEY``."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from plaza.config import Settings, get_settings
from plaza.identity.tokens import issue_token

ROOT = Path(__file__).resolve().parents[2]
MAX_BYTES = 5_000_000
SKIP_DIRS = {".git", ".venv", "var", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache"}

# Written so that this file does not match itself.
PATTERNS = {
    "private-key": re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"),
    "plaza-api-key": re.compile(r"\bplz_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}"),
    "jwt": re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}"),
    # The key assigned a literal value in .env files, shell, Dockerfiles, docs or YAML
    # (a reference such as =$(...) or =<random> is fine).
    "secret-key-assignment": re.compile(
        r"\bPLAZA_SECRET_KEY\s*(?:=|:\s*[\"'])\s*[\"']?(?![$<{…])[^\s\"'#]{6,}"
    ),
    # The key set to a literal through os.environ (item assignment or setdefault).
    "secret-key-in-code": re.compile(
        r"[\"']PLAZA_SECRET_KEY[\"'](?:\]\s*=|\s*,)\s*[\"'][^\"']{6,}[\"']"
    ),
    "secret-key-literal": re.compile(r"(?i)\bsecret_key\s*=\s*[\"'][^\"']{6,}[\"']"),
    "aws-access-key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "github-token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
}
SECRET_FILES = re.compile(r"(^|/)(\.env|id_rsa|id_ed25519|[^/]+\.(pem|key|p12|pfx))$")

# (path, pattern) -> why it is not a secret. Each entry must still match (no stale ones).
ALLOWED: dict[tuple[str, str], str] = {}


def repository_files() -> list[str]:
    """Tracked files plus new ones not ignored: what a commit would publish."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
        return sorted({p for p in out.decode().split("\0") if p and (ROOT / p).is_file()})
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: walk the tree
        found = []
        for dirpath, dirnames, filenames in os.walk(ROOT):
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
            found += [str((Path(dirpath) / f).relative_to(ROOT)) for f in filenames]
        return sorted(found)


def scan_text(text: str) -> set[str]:
    return {name for name, pattern in PATTERNS.items() if pattern.search(text)}


def findings() -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for path in repository_files():
        if SECRET_FILES.search(path):
            found[(path, "secret-file")] = 1
        data = (ROOT / path).read_bytes()[:MAX_BYTES]
        if b"\0" in data:
            continue  # binary
        text = data.decode("utf-8", errors="replace")
        for name in scan_text(text):
            found[(path, name)] = len(PATTERNS[name].findall(text))
    return found


def test_the_scan_sees_the_repository():
    files = repository_files()
    assert "src/plaza/config.py" in files and "tests/conftest.py" in files
    assert not any(f.startswith((".venv/", "var/")) for f in files)


def test_no_secret_is_committed():
    found = findings()
    unexpected = sorted(f"{p}: {kind}" for p, kind in found if (p, kind) not in ALLOWED)
    assert unexpected == [], "secrets belong in settings (PLAZA_*), not in the repository"
    stale = sorted(f"{p}: {kind}" for p, kind in ALLOWED if (p, kind) not in found)
    assert stale == [], "remove allow-list entries that no longer match"


def test_the_scanner_catches_each_kind_of_secret():
    samples = {
        "private-key": "-----BEGIN " + "OPENSSH PRIVATE KEY-----\nb3Blbn...\n",
        "plaza-api-key": f"key = 'plz_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}'",
        "jwt": f"Authorization: Bearer {issue_token(uuid.uuid4())[0]}",
        "secret-key-assignment": "PLAZA_SECRET_" + f"KEY={secrets.token_urlsafe(32)}",
        "secret-key-in-code": 'os.environ["PLAZA_SECRET_' + 'KEY"] = "hunter2hunter2"',
        "secret-key-literal": "Settings(secret_" + 'key="hunter2hunter2")',
        "aws-access-key": "AKIA" + "Z" * 16,
        "github-token": "ghp_" + "a1" * 18,
    }
    assert set(samples) == set(PATTERNS)
    for kind, text in samples.items():
        assert kind in scan_text(text), kind
    # References to a secret, not secrets.
    for fine in (
        "PLAZA_SECRET_" + 'KEY="$(python -c "import secrets; print(secrets.token_urlsafe(48))")"',
        "PLAZA_SECRET_" + "KEY=<a random value of 48+ characters>",
        "PLAZA_SECRET_" + "KEY: required when PLAZA_ENV=production",
        'os.environ.setdefault("PLAZA_SECRET_' + 'KEY", secrets.token_urlsafe(48))',
        "eyJhbGciOiJIUzI1NiJ9…",
        "plz_3f9c2a7b1d04_Qm9…",
    ):
        assert scan_text(fine) == set(), fine
    assert SECRET_FILES.search("deploy/.env") and SECRET_FILES.search("certs/server.pem")
    assert not SECRET_FILES.search(".env.example") and not SECRET_FILES.search("docs/keys.md")


# ----------------------------------------------------------------- production settings


def test_production_refuses_a_missing_or_weak_secret():
    for weak in (None, "", "short", "changeme" * 4, "a" * 64, "0123456789" * 3):
        with pytest.raises(ValidationError, match="PLAZA_SECRET_KEY"):
            Settings(env="production", secret_key=weak)
    strong = secrets.token_urlsafe(48)
    settings = Settings(env="production", secret_key=strong)
    assert settings.resolved_secret_key() == strong
    # Outside production a missing key is generated locally (development convenience).
    assert Settings(env="development", secret_key=None).secret_key is None


def test_production_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("PLAZA_ENV", "production")
    monkeypatch.delenv("PLAZA_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    try:
        with pytest.raises(ValidationError, match="PLAZA_SECRET_KEY"):
            get_settings()
        monkeypatch.setenv("PLAZA_SECRET_KEY", secrets.token_urlsafe(48))
        get_settings.cache_clear()
        assert get_settings().env == "production"
    finally:
        get_settings.cache_clear()
