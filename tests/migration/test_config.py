"""``legacy-rpc config``: a legacy config file as transport_url and new-style options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.migration.conftest import SAMPLE_TREE, Run

ACME_CONF = SAMPLE_TREE / "etc" / "acme" / "acme.conf"
HOSTS = "rabbit1.example.org:5672,acme:{pw}@rabbit2.example.org:5672/acme"


def test_sample_config(run: Run) -> None:
    code, out, err = run("config", str(ACME_CONF))
    assert (code, err) == (0, "")
    assert "s3cret-pw" not in out
    assert out == (
        f"# New-style options for {ACME_CONF} (passwords masked; --show-secrets shows them)\n"
        "[DEFAULT]\n"
        f"transport_url = rabbit://acme:****@{HOSTS.format(pw='****')}\n"
        "control_exchange = acme\n"
        "rpc_response_timeout = 90\n"
        "executor_thread_pool_size = 32\n"
        "\n"
        "[oslo_messaging_rabbit]\n"
        "rabbit_ha_queues = true\n"
        "amqp_durable_queues = true\n"
        "\n"
        "[oslo_messaging_notifications]\n"
        "driver = messaging\n"
        "topics = notifications,monitor\n"
        "\n"
        "# Legacy options without a new-style option (remove them):\n"
        "#   rabbit_max_retries (line 14): no effect: each send retries up to its own "
        "retry= argument\n"
        "#   allowed_rpc_exception_modules (line 19): no option: pass "
        "allowed_remote_exmods=[...] to get_rpc_transport() ('exceptions' is not needed)\n"
        "#   default_publisher_id (line 24): no option: Notifier(transport, "
        "publisher_id=...)\n")


def test_show_secrets_and_json(run: Run) -> None:
    code, out, _ = run("config", str(ACME_CONF), "--json", "--show-secrets")
    data = json.loads(out)
    assert code == 0
    assert data["transport_url"] == f"rabbit://acme:s3cret-pw@{HOSTS.format(pw='s3cret-pw')}"
    assert data["options"]["oslo_messaging_rabbit"] == {"rabbit_ha_queues": "true",
                                                        "amqp_durable_queues": "true"}
    assert [n["option"] for n in data["no_equivalent"]] == [
        "rabbit_max_retries", "allowed_rpc_exception_modules", "default_publisher_id"]
    assert data["unknown_options"] == []
    assert data["unrelated_options"] == 4  # host, widget_topic, debug, [database] connection


def test_the_url_works(run: Run, tmp_path: Path) -> None:
    """The printed options, as a new-style config, give the same transport URL back."""
    from oslo_config import cfg

    from legacy_rpc.rpc import _transport_url

    _, out, _ = run("config", str(ACME_CONF), "--show-secrets")
    new_conf = tmp_path / "new.conf"
    new_conf.write_text(out)
    conf = cfg.ConfigOpts()
    conf(["--config-file", str(new_conf)], default_config_files=[], default_config_dirs=[])
    url = _transport_url.transport_url(conf)
    assert url.as_uri(include_password=True) == \
        f"rabbit://acme:s3cret-pw@{HOSTS.format(pw='s3cret-pw')}"


def test_unknown_option_is_warned_with_a_suggestion(run: Run, tmp_path: Path) -> None:
    conf = tmp_path / "svc.conf"
    conf.write_text("[DEFAULT]\nrabbit_hots = r1:5672\nrabbit_host = r2\n"
                    "[oslo_messaging_rabbit]\nheartbeat_rat = 2\n")
    code, out, err = run("config", str(conf))
    assert code == 1
    assert (f"warning: {conf}:2: unknown option 'rabbit_hots' in [DEFAULT], ignored; "
            "did you mean 'rabbit_hosts'?") in err
    assert f"{conf}:5: unknown option 'heartbeat_rat' in [oslo_messaging_rabbit]" in err
    assert "transport_url = rabbit://guest:****@r2:5672/" in out


@pytest.mark.parametrize(("text", "message"), [
    ("[DEFAULT]\nrabbit_host r1\n", "line 2: cannot parse 'rabbit_host r1'"),
    ("[DEFAULT]\nrabbit_port = many\n", "rabbit_port"),
    ("[DEFAULT]\nrpc_backend = acme.openstack.common.rpc.impl_kombo\n",
     "Unknown messaging driver"),
    ("[DEFAULT]\nkombu_ssl_version = SSLv3\n", "insecure"),
])
def test_bad_file(run: Run, tmp_path: Path, text: str, message: str) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    code, out, err = run("config", str(conf))
    assert (code, out) == (2, "")
    assert err.startswith("legacy-rpc config: error: ")
    assert message in err


def test_unreadable_file(run: Run, tmp_path: Path) -> None:
    code, out, err = run("config", str(tmp_path / "missing.conf"))
    assert (code, out) == (2, "")
    assert "cannot read" in err and "No such file or directory" in err


def test_misspelt_default_option_is_reported(tmp_path: Path, run: Run) -> None:
    conf = tmp_path / "typo.conf"
    conf.write_text("[DEFAULT]\nrabit_host = broker\nverbose = true\n")
    code, _out, err = run("config", str(conf))
    assert code == 1
    assert "rabit_host" in err and "did you mean 'rabbit_host'" in err
    assert "verbose" not in err  # not a messaging option
