"""The ``[auth]`` limits and ``[security]`` settings: defaults, ranges, and the
secret key, which comes from ``UMSGATE_SECRET_KEY`` or a private key file only."""

from __future__ import annotations

from pathlib import Path

import pytest

from umsgate import config, sealing
from umsgate.errors import ConfigError


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_defaults() -> None:
    s = config.load(None, env={})
    assert (s.auth.hash_workers, s.auth.failures_before_lockout) == (1, 5)
    assert s.auth.address_failures_before_lockout == 20
    assert s.auth.lockout_max_seconds == 300.0
    assert s.security.secret_key == "" and s.security.key_file == ""
    assert s.security.webhook_key_grace == 86400.0


def test_env_twins() -> None:
    s = config.load(
        None,
        env={
            "UMSGATE_AUTH_FAILURES_BEFORE_LOCKOUT": "3",
            "UMSGATE_AUTH_LOCKOUT_MAX_SECONDS": "60",
            "UMSGATE_SECURITY_WEBHOOK_KEY_GRACE": "3600",
        },
    )
    assert s.auth.failures_before_lockout == 3
    assert s.auth.lockout_max_seconds == 60.0
    assert s.security.webhook_key_grace == 3600.0


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("auth", "hash_workers", 0),
        ("auth", "failures_before_lockout", 0),
        ("auth", "address_failures_before_lockout", -1),
        ("auth", "lockout_max_seconds", 0.5),
        ("auth", "lockout_keys", 0),
        ("security", "webhook_key_grace", -1.0),
        ("webhook", "reports_per_post", 5000),
        ("breaker", "threshold", 0),
        ("breaker", "ratio", 1.5),
        ("breaker", "window", 0),
        ("breaker", "cooldown", -1),
        ("breaker", "cooldown_max", 0.1),
        ("breaker", "probes", 0),
        ("breaker", "probe_timeout", 0),
    ],
)
def test_values_out_of_range_are_refused(
    tmp_path: Path, section: str, key: str, value: float
) -> None:
    file = write(tmp_path / "u.toml", f"[{section}]\n{key} = {value}\n")
    with pytest.raises(ConfigError, match=rf"line 2: \[{section}\] {key}: {key}"):
        config.load(file, env={})


def test_the_key_from_the_environment_is_checked_and_never_shown() -> None:
    key = sealing.new_key()
    s = config.load(None, env={"UMSGATE_SECRET_KEY": key})
    assert s.security.secret_key == key
    assert key not in repr(s)
    with pytest.raises(ConfigError, match="UMSGATE_SECRET_KEY: a secret key is 32"):
        config.load(None, env={"UMSGATE_SECRET_KEY": "not a key"})


def test_the_key_file_is_read_relative_to_the_settings_and_must_be_private(
    tmp_path: Path,
) -> None:
    key = sealing.new_key()
    (tmp_path / "keys").mkdir()
    key_file = write(tmp_path / "keys" / "umsgate.key", key + "\n")
    settings = write(tmp_path / "u.toml", '[security]\nkey_file = "keys/umsgate.key"\n')
    assert config.load(settings, env={}).security.secret_key == key
    key_file.chmod(0o644)
    with pytest.raises(ConfigError, match=r"line 2: \[security\] key_file: .* 0644"):
        config.load(settings, env={})
    key_file.chmod(0o600)
    with pytest.raises(ConfigError, match="give the secret key once"):
        config.load(settings, env={"UMSGATE_SECRET_KEY": key})
    write(key_file, "garbage")
    with pytest.raises(ConfigError, match=r"umsgate\.key'.*32 bytes"):
        config.load(settings, env={})
    key_file.unlink()
    with pytest.raises(ConfigError, match="No such file"):
        config.load(settings, env={})


def test_the_key_is_not_a_setting(tmp_path: Path) -> None:
    key = sealing.new_key()
    file = write(tmp_path / "u.toml", f'[security]\nsecret_key = "{key}"\n')
    with pytest.raises(ConfigError, match="line 2: the secret key is given in"):
        config.load(file, env={})
    with pytest.raises(ConfigError, match="UMSGATE_SECURITY_SECRET_KEY: the secret"):
        config.load(None, env={"UMSGATE_SECURITY_SECRET_KEY": key})
