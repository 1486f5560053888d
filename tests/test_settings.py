"""The settings refuse what they cannot read, and the subject-hash key is a secret of its own."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from govplatform.settings import env_secret, envbool, envchoice, envint

BASE_DIR = Path(settings.BASE_DIR)
# Everything the settings read that a developer's or CI's environment may have set.
SETTINGS_VARIABLES = ("SECRET_KEY", "SECRET_KEY_FILE", "AUDIT_SUBJECT_HASH_KEY", "AUDIT_SUBJECT_HASH_KEY_FILE",
                      "DEBUG", "SECURE_COOKIES", "BEHIND_TLS_PROXY", "NONCE_STORE", "DATABASE_URL", "REDIS_URL")
STARTUP = "import django; django.setup(); from django.conf import settings"
SETTINGS_ONLY = "from govplatform import settings"  # faster, for what only the settings module decides
PRINT = "; print(settings.SECRET_KEY); print(settings.AUDIT_SUBJECT_HASH_KEY); print(settings.SESSION_COOKIE_SECURE)"


def start(data_dir: Path, code: str = STARTUP, **variables: str) -> subprocess.CompletedProcess[str]:
    """Run Python with these variables on a fresh data folder, as `manage.py` or gunicorn would start."""
    env = {name: value for name, value in os.environ.items() if name not in SETTINGS_VARIABLES}
    env.update(DJANGO_SETTINGS_MODULE="govplatform.settings", PLATFORM_DATA_DIR=str(data_dir), **variables)
    return subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def test_a_misspelt_boolean_setting_stops_startup_naming_the_variable(tmp_path: Path) -> None:
    started = start(tmp_path, SECURE_COOKIES="ture")
    assert started.returncode != 0
    assert "ImproperlyConfigured" in started.stderr
    assert "SECURE_COOKIES='ture'" in started.stderr
    assert "true" in started.stderr and "false" in started.stderr  # what it would have accepted


def test_a_clear_boolean_setting_starts(tmp_path: Path) -> None:
    started = start(tmp_path, STARTUP + PRINT, SECURE_COOKIES="TRUE")
    assert started.returncode == 0, started.stderr
    assert started.stdout.splitlines()[2] == "True"


def test_the_subject_hash_key_is_made_once_in_the_data_folder_apart_from_the_secret_key(tmp_path: Path) -> None:
    first = start(tmp_path, SETTINGS_ONLY + PRINT)
    assert first.returncode == 0, first.stderr
    secret_key, hash_key, _ = first.stdout.splitlines()
    stored = tmp_path / "subject_hash_key"
    assert stored.read_text() == hash_key
    assert (tmp_path / "secret_key").read_text() == secret_key
    assert hash_key != secret_key and secret_key not in hash_key and len(hash_key) >= 50
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    again = start(tmp_path, SETTINGS_ONLY + PRINT)
    assert again.stdout.splitlines()[:2] == [secret_key, hash_key]  # made once, then kept


def test_a_given_secret_key_does_not_become_the_subject_hash_key(tmp_path: Path) -> None:
    started = start(tmp_path, SETTINGS_ONLY + PRINT, SECRET_KEY="a-django-secret-from-the-environment")
    assert started.returncode == 0, started.stderr
    secret_key, hash_key, _ = started.stdout.splitlines()
    assert secret_key == "a-django-secret-from-the-environment"
    assert hash_key == (tmp_path / "subject_hash_key").read_text() != secret_key


def test_an_explicit_subject_hash_key_wins(tmp_path: Path) -> None:
    started = start(tmp_path, SETTINGS_ONLY + PRINT, AUDIT_SUBJECT_HASH_KEY="the-audit-office-key")
    assert started.returncode == 0, started.stderr
    assert started.stdout.splitlines()[1] == "the-audit-office-key"
    assert not (tmp_path / "subject_hash_key").exists()
    key_file = tmp_path / "hash-key"
    key_file.write_text("from-a-file\n")
    started = start(tmp_path, SETTINGS_ONLY + PRINT, AUDIT_SUBJECT_HASH_KEY_FILE=str(key_file))
    assert started.stdout.splitlines()[1] == "from-a-file"


def test_the_tests_subject_hash_key_is_not_the_secret_key() -> None:
    assert settings.AUDIT_SUBJECT_HASH_KEY and settings.AUDIT_SUBJECT_HASH_KEY != settings.SECRET_KEY


# --- The readers, in process ---------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("1", True), ("true", True), ("True", True), ("YES", True), ("on", True), (" yes ", True),
    ("0", False), ("false", False), ("FALSE", False), ("no", False), ("Off", False),
])
def test_envbool_reads_the_clear_spellings(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv("SOME_SWITCH", value)
    assert envbool("SOME_SWITCH", not expected) is expected


@pytest.mark.parametrize("value", ["", "  "])
def test_envbool_takes_the_default_when_empty_or_unset(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SOME_SWITCH", value)
    assert envbool("SOME_SWITCH", True) is True
    monkeypatch.delenv("SOME_SWITCH")
    assert envbool("SOME_SWITCH", False) is False


@pytest.mark.parametrize("value", ["ture", "flase", "2", "y", "enabled", "off!"])
def test_envbool_refuses_anything_else(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SOME_SWITCH", value)
    with pytest.raises(ImproperlyConfigured, match=r"SOME_SWITCH=.*1, true, yes, on.*0, false, no, off"):
        envbool("SOME_SWITCH", False)


def test_envint_reads_a_whole_number_and_refuses_anything_else(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_SECONDS", " 120 ")
    assert envint("SOME_SECONDS", 300) == 120
    monkeypatch.setenv("SOME_SECONDS", "")
    assert envint("SOME_SECONDS", 300) == 300
    for value in ("5m", "1.5", "three hundred"):
        monkeypatch.setenv("SOME_SECONDS", value)
        with pytest.raises(ImproperlyConfigured, match=r"SOME_SECONDS=.*not a whole number"):
            envint("SOME_SECONDS", 300)


def test_envchoice_refuses_an_unknown_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NONCE_STORE", "Redis")
    assert envchoice("NONCE_STORE", "database", ("redis", "database")) == "redis"
    monkeypatch.setenv("NONCE_STORE", "memcached")
    with pytest.raises(ImproperlyConfigured, match="NONCE_STORE='memcached' is not one of redis, database"):
        envchoice("NONCE_STORE", "database", ("redis", "database"))


def test_a_secret_file_that_cannot_be_read_is_refused_by_name(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    monkeypatch.delenv("SOME_SECRET", raising=False)
    monkeypatch.setenv("SOME_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match=r"SOME_SECRET_FILE=.*cannot be read"):
        env_secret("SOME_SECRET")
    (tmp_path / "empty").write_text("\n")
    monkeypatch.setenv("SOME_SECRET_FILE", str(tmp_path / "empty"))
    with pytest.raises(ImproperlyConfigured, match=r"SOME_SECRET_FILE=.* is empty"):
        env_secret("SOME_SECRET")


def test_every_environment_variable_the_settings_read_is_in_the_readme() -> None:
    """The README's tables are the deployment's manual: a variable read but not written there is a secret knob."""
    import re

    from django.conf import settings

    source = (settings.BASE_DIR / "govplatform" / "settings.py").read_text(encoding="utf-8")
    readme = (settings.BASE_DIR / "README.md").read_text(encoding="utf-8")
    read = set(re.findall(r'\benv(?:bool|int|list|choice|_secret)?\("([A-Z][A-Z0-9_]+)"', source))
    assert len(read) > 30, "the pattern finds the settings' variables"
    assert sorted(name for name in read if f"`{name}" not in readme) == []
