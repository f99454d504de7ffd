"""``[[connectors]]`` and ``[[routes]]`` in the settings file: what they become, the
credentials read from the environment or a file, and errors that name the line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from umsgate import config
from umsgate.errors import ConfigError
from umsgate.protocols import registry

BASE = """\
[engine]
batch_size = 100

[[connectors]]
name = "smsc-a"
protocol = "smpp"
host = "127.0.0.1"
system_id = "esme"
password_env = "SMPP_A_PASS"

[[connectors]]
name = "smsc-b"
protocol = "smpp"
host = "127.0.0.1"
system_id = "esme"
password_file = "secrets/b.txt"

[[routes]]
name = "kr-jp"
channels = ["sms", "LMS"]
countries = ["kr", "JP"]
prefixes = ["+8210"]
clients = ["shop"]
senders = ["0212345678", "+8215881234"]
sender_prefixes = ["+8216"]
connectors = ["smsc-a", "smsc-b", "sandbox"]
weights = [3, 1]

[[routes]]
name = "rest"
connectors = ["sandbox"]
"""

ENV = {"SMPP_A_PASS": "pa55-A"}


def write(tmp_path: Path, text: str, name: str = "umsgate.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    secrets = tmp_path / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "b.txt").write_text("pa55-B\n")
    return path


def load(
    tmp_path: Path, text: str, env: dict[str, str] | None = None
) -> config.Settings:
    return config.load(write(tmp_path, text), env=ENV if env is None else env)


def refused(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text, env)
    return info.value.message


def test_routes_are_read_and_normalised(tmp_path: Path) -> None:
    settings = load(tmp_path, BASE)
    kr, rest = settings.routes
    assert kr.name == "kr-jp"
    assert kr.channels == ("SMS", "LMS")
    assert kr.countries == ("KR", "JP")
    assert kr.prefixes == ("+8210",)
    assert kr.clients == ("shop",)
    assert kr.senders == ("+82212345678", "+8215881234")
    assert kr.sender_prefixes == ("+8216",)
    assert kr.connectors == ("smsc-a", "smsc-b", "sandbox")
    assert kr.weights == (3, 1)
    assert [kr.weight(i) for i in range(3)] == [3, 1, 0]
    assert rest.connectors == ("sandbox",)
    assert kr.origin is not None and kr.origin.at("weights").endswith("line 27")


def test_credentials_come_from_the_environment_and_from_a_file(tmp_path: Path) -> None:
    a, b = load(tmp_path, BASE).connectors
    assert a.options["password"] == "pa55-A"
    assert "password_env" not in a.options
    # Relative to the settings file; the file's last line break is not part of it.
    assert b.options["password"] == "pa55-B"
    assert a.secrets == b.secrets == frozenset({"password"})


def test_secrets_are_not_in_the_settings_repr(tmp_path: Path) -> None:
    settings = load(tmp_path, BASE)
    shown = repr(settings)
    assert "pa55-A" not in shown and "pa55-B" not in shown
    assert "smsc-a" in shown


def test_redact_takes_secret_values_out_of_any_text(tmp_path: Path) -> None:
    a = load(tmp_path, BASE).connectors[0]
    assert a.redact("bind as esme with pa55-A failed") == (
        "bind as esme with *** failed"
    )
    # Values of options named like secrets count too, even when written inline.
    inline = config.ConnectorSettings(
        name="x", protocol="imsms", options={"api_key": "k-123", "agent_id": "a"}
    )
    assert inline.redact("key k-123, agent a") == "key ***, agent a"


def test_an_option_error_of_a_protocol_names_the_line_and_hides_the_secret(
    tmp_path: Path,
) -> None:
    """SMPP passwords are at most 8 characters; the one in the environment is
    longer. The error names the line of password_env and not the value."""
    settings = load(tmp_path, BASE, env={"SMPP_A_PASS": "far-too-long-secret"})
    with pytest.raises(ConfigError) as info:
        registry.check_connectors(settings)
    message = info.value.message
    assert message.startswith(f"{tmp_path / 'umsgate.toml'}, line 9: ")
    assert "'password'" in message and "8 characters" in message
    assert "far-too-long-secret" not in message


def test_connectors_are_checked_without_connecting(tmp_path: Path) -> None:
    assert registry.check_connectors(load(tmp_path, BASE)) == ["smsc-a", "smsc-b"]


def test_breaker_settings_from_the_file_and_the_environment(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        "[breaker]\nthreshold = 9\ncooldown = 2.5\n",
        env={"UMSGATE_BREAKER_PROBES": "4"},
    )
    assert settings.breaker.threshold == 9
    assert settings.breaker.cooldown == 2.5
    assert settings.breaker.probes == 4
    assert config.load(None, env={}).breaker.threshold == 5


def replace(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new)


BAD: list[tuple[str, str, int, list[str]]] = [
    (
        "unknown connector",
        replace('"smsc-b", "sandbox"]', '"smsc-c", "sandbox"]'),
        26,
        ["route 'kr-jp'", "'smsc-c'", "not defined"],
    ),
    (
        "connector twice in a route",
        replace('"smsc-b", "sandbox"]', '"smsc-a", "sandbox"]'),
        26,
        ["'smsc-a' twice"],
    ),
    ("no connectors", replace('connectors = ["sandbox"]', ""), 29, ["'connectors'"]),
    ("empty list", replace('["sandbox"]', "[]"), 31, ["at least one"]),
    (
        "too many weights",
        replace("[3, 1]", "[3, 1, 1, 1]"),
        27,
        ["4 weights for 3 connectors"],
    ),
    ("negative weight", replace("[3, 1]", "[3, -1]"), 27, ["integers ≥ 0"]),
    ("float weight", replace("[3, 1]", "[3, 0.5]"), 27, ["integers ≥ 0"]),
    ("unknown channel", replace('"sms", "LMS"', '"sms", "FAX"'), 20, ["'FAX'"]),
    ("unknown country", replace('"kr", "JP"', '"KR", "XX"'), 21, ["'XX'", "ISO"]),
    ("bad prefix", replace('["+8210"]', '["8210"]'), 22, ["'8210'", "E.164"]),
    ("bad sender", replace('"0212345678"', '"12"'), 24, ["'12'", "not a valid"]),
    (
        "bad sender prefix",
        replace('["+8216"]', '["+82-16"]'),
        25,
        ["'+82-16'"],
    ),
    ("not a list", replace('clients = ["shop"]', 'clients = "shop"'), 23, ["list"]),
    (
        "unknown route key",
        replace('name = "rest"', 'name = "rest"\nconnector = "x"'),
        31,
        ["'connector'", "not a route key"],
    ),
    (
        "route name twice",
        replace('name = "rest"', 'name = "kr-jp"'),
        30,
        ["'kr-jp'", "twice"],
    ),
    (
        "route without a name",
        replace('name = "rest"\n', ""),
        29,
        ["'name' is required"],
    ),
    (
        "connector name twice",
        replace('name = "smsc-b"', 'name = "smsc-a"'),
        12,
        ["'smsc-a'", "twice"],
    ),
    (
        "connector without a protocol",
        replace(
            'protocol = "smpp"\nhost = "127.0.0.1"\nsystem_id = "esme"\npassword_f',
            'host = "127.0.0.1"\nsystem_id = "esme"\npassword_f',
        ),
        11,
        ["'protocol' is required"],
    ),
    (
        "unknown protocol",
        replace(
            'protocol = "smpp"\nhost = "127.0.0.1"\nsystem_id = "esme"\npassword_f',
            'protocol = "fax"\nhost = "127.0.0.1"\nsystem_id = "esme"\npassword_f',
        ),
        13,
        ["unknown protocol 'fax'"],
    ),
    (
        "unset variable",
        replace('"SMPP_A_PASS"', '"NOT_SET_ANYWHERE"'),
        9,
        ["'NOT_SET_ANYWHERE'", "not set"],
    ),
    (
        "missing secret file",
        replace('"secrets/b.txt"', '"secrets/none.txt"'),
        16,
        ["password_file", "none.txt", "No such file"],
    ),
    (
        "value and variable both",
        replace('password_env = "SMPP_A_PASS"', 'password = "x"\npassword_env = "X"'),
        10,
        ["give 'password' once"],
    ),
    (
        "bad option of the protocol",
        replace(
            'host = "127.0.0.1"\nsystem_id = "esme"\npassword_env',
            'host = "127.0.0.1"\nport = "many"\nsystem_id = "esme"\npassword_env',
        ),
        8,
        ["connector 'smsc-a'", "'port'", "'many'"],
    ),
    (
        "unknown option of the protocol",
        replace(
            'system_id = "esme"\npassword_env',
            'system_id = "esme"\nsystem_idd = "x"\npassword_env',
        ),
        9,
        ["'system_idd'"],
    ),
    (
        "bad engine value",
        replace("batch_size = 100", 'batch_size = "many"'),
        2,
        ["batch_size", "'many'", "int"],
    ),
    ("unknown engine key", replace("batch_size = 100", "batch = 100"), 2, ["'batch'"]),
    ("unknown section", "[weird]\nx = 1\n", 1, ["[weird]"]),
    ("routes not tables", 'routes = "all"\n', 1, ["[[routes]]"]),
    ("bad breaker", "\n[breaker]\nratio = 2.0\n", 3, ["[breaker]", "ratio"]),
]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [pytest.param(text, line, words, id=name) for name, text, line, words in BAD],
)
def test_bad_settings_are_refused_naming_the_line(
    tmp_path: Path, text: str, line: int, words: list[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        registry.check_connectors(config.load(path, env=ENV))
    message = info.value.message
    assert message.startswith(f"{path}, line {line}: "), message
    for word in words:
        assert word in message, (word, message)
    assert "pa55" not in message


def test_an_environment_value_is_named_by_its_variable(tmp_path: Path) -> None:
    message = refused(tmp_path, BASE, env={**ENV, "UMSGATE_ENGINE_BATCH_SIZE": "lots"})
    assert message.startswith("UMSGATE_ENGINE_BATCH_SIZE: 'lots'")


def test_a_toml_syntax_error_names_its_line(tmp_path: Path) -> None:
    message = refused(tmp_path, BASE.replace("weights = [3, 1]", "weights = [3, 1"))
    assert "line 29" in message or "line 28" in message


def test_lines_are_found_in_a_file_with_comments_and_odd_layout(
    tmp_path: Path,
) -> None:
    """Headers and keys inside comments and strings are not taken for the real
    ones (``load`` alone does not read a connector's own options)."""
    text = textwrap.dedent(
        '''\
        # [[routes]] and weights = [1] in a comment
        [[connectors]]
        name = "s"
        protocol = "sandbox"
        note = """
        [[routes]]
        weights = [-1]
        """

          [[routes]]   # the first one
          name = "a"
          connectors = [
            "sandbox",   # [[routes]]
          ]

        [[routes]]
        "name" = "b"
        connectors = ['s']
        weights = [
          -1,
        ]
        '''
    )
    with pytest.raises(ConfigError) as info:
        config.load(write(tmp_path, text), env={})
    assert ", line 19: route 'b': 'weights'" in info.value.message
