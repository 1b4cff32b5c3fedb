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


def _notify_drivers(text: str, tmp_path: Path) -> list[str]:
    """The [oslo_messaging_notifications] driver that oslo.config reads from ``text``."""
    from oslo_config import cfg

    from legacy_rpc.messaging.notify import _opts as notify_opts

    path = tmp_path / "printed.conf"
    path.write_text(text)
    conf = cfg.ConfigOpts()
    notify_opts.register_notifier_opts(conf)
    conf(["--config-file", str(path)], default_config_files=[], default_config_dirs=[])
    return list(conf.oslo_messaging_notifications.driver)


def test_several_notification_drivers_are_repeated_lines(run: Run, tmp_path: Path) -> None:
    conf = tmp_path / "svc.conf"
    conf.write_text("[DEFAULT]\n"
                    "notification_driver = nova.openstack.common.notifier.rpc_notifier2\n"
                    "notification_driver = nova.openstack.common.notifier.log_notifier\n"
                    "notification_driver = acme.notifier.custom\n"
                    "notification_driver = messagingv2\n")  # the same as the first one
    code, out, err = run("config", str(conf))
    assert (code, err) == (0, "")
    assert ("[oslo_messaging_notifications]\ndriver = messagingv2\ndriver = log\n"
            "driver = acme.notifier.custom\n") in out
    assert "," not in out.partition("[oslo_messaging_notifications]")[2]
    assert _notify_drivers(out, tmp_path) == ["messagingv2", "log", "acme.notifier.custom"]
    _, out, _ = run("config", str(conf), "--json")
    assert json.loads(out)["options"]["oslo_messaging_notifications"]["driver"] == [
        "messagingv2", "log", "acme.notifier.custom"]


def test_one_notification_driver_stays_one_value(run: Run, tmp_path: Path) -> None:
    conf = tmp_path / "svc.conf"
    conf.write_text("[DEFAULT]\nnotification_driver = nova.notifier.no_op_notifier\n")
    _, out, _ = run("config", str(conf), "--json")
    assert json.loads(out)["options"]["oslo_messaging_notifications"] == {"driver": "noop"}


def test_essex_list_notifier_becomes_its_drivers(run: Run, tmp_path: Path) -> None:
    conf = tmp_path / "nova.conf"
    conf.write_text("[DEFAULT]\n"
                    "notification_driver = nova.notifier.list_notifier\n"
                    "list_notifier_drivers = nova.notifier.rpc_notifier\n"
                    "list_notifier_drivers = nova.notifier.log_notifier\n"
                    "notification_topics = notifications\n")
    code, out, err = run("config", str(conf))
    assert (code, err) == (0, "")
    assert "list_notifier" not in out.partition("[DEFAULT]")[2].partition("# Notes:")[0]
    assert ("[oslo_messaging_notifications]\ndriver = messaging\ndriver = log\n"
            "topics = notifications\n") in out
    assert ("# Notes:\n#   notification_driver (line 2): nova.notifier.list_notifier (Essex) "
            "only sent to the drivers of list_notifier_drivers; they are the drivers now: "
            "messaging, log\n") in out
    assert _notify_drivers(out, tmp_path) == ["messaging", "log"]
    _, out, _ = run("config", str(conf), "--json")
    assert [e["line"] for e in json.loads(out)["explained"]] == [2]


def test_list_notifier_without_its_drivers_is_noop(run: Run, tmp_path: Path) -> None:
    conf = tmp_path / "nova.conf"
    conf.write_text("[DEFAULT]\nnotification_driver = nova.notifier.list_notifier\n")
    code, out, _ = run("config", str(conf))
    assert code == 0
    assert "[oslo_messaging_notifications]\ndriver = noop\n" in out
    assert "the default list_notifier_drivers; they are the drivers now: noop" in out


def test_transport_url_keeps_legacy_tls(run: Run, tmp_path: Path) -> None:
    """rabbit_use_ssl = True with transport_url: TLS kept, with a warning (not dropped)."""
    from oslo_config import cfg

    from legacy_rpc.messaging.drivers.rabbit._opts import load_options

    conf = tmp_path / "svc.conf"
    conf.write_text("[DEFAULT]\ntransport_url = rabbit://u:p@broker:5671/\n"
                    "rabbit_use_ssl = True\nkombu_ssl_ca_certs = /etc/ssl/ca.pem\n")
    code, out, err = run("config", str(conf), "--show-secrets")
    assert code == 0
    assert ("[DEFAULT]\ntransport_url = rabbit://u:p@broker:5671/\n\n"
            "[oslo_messaging_rabbit]\nssl = true\nssl_ca_file = /etc/ssl/ca.pem\n") in out
    assert err.startswith(f"legacy-rpc config: warning: {conf}:3: rabbit_use_ssl: "
                          "transport_url is set but does not say ssl; the legacy "
                          "rabbit_use_ssl = True is kept (TLS)")
    assert "#   rabbit_use_ssl (line 3): transport_url is set" in out
    new_conf = tmp_path / "new.conf"
    new_conf.write_text(out)
    printed = cfg.ConfigOpts()
    printed(["--config-file", str(new_conf)], default_config_files=[],
            default_config_dirs=[])
    options = load_options(printed, {})
    assert (options.ssl, options.ssl_ca_file) == (True, "/etc/ssl/ca.pem")
    _, out, _ = run("config", str(conf), "--json")
    assert [w["option"] for w in json.loads(out)["warnings"]] == ["rabbit_use_ssl"]


def test_projects_own_options_are_left_alone(run: Run, tmp_path: Path) -> None:
    conf = tmp_path / "svc.conf"
    conf.write_text("[DEFAULT]\nrpc_workers = 4\nmy_ip = 10.0.0.1\n"
                    "notification_format = unversioned\nrabbit_host = r1\n")
    code, out, err = run("config", str(conf))
    assert code == 0
    assert err == (f"legacy-rpc config: note: {conf}:2: 'rpc_workers' in [DEFAULT] is not a "
                   "messaging option, left alone\n"
                   f"legacy-rpc config: note: {conf}:4: 'notification_format' in [DEFAULT] "
                   "is not a messaging option, left alone\n")
    assert "transport_url = rabbit://guest:****@r1:5672/" in out
    assert "rpc_workers" not in out and "my_ip" not in out
    _, out, _ = run("config", str(conf), "--json")
    data = json.loads(out)
    assert data["unknown_options"] == []
    assert [o["option"] for o in data["not_messaging_options"]] == [
        "rpc_workers", "notification_format"]
    assert data["unrelated_options"] == 3


def test_close_misspelling_with_a_messaging_prefix_stays_an_error(run: Run,
                                                                  tmp_path: Path) -> None:
    conf = tmp_path / "svc.conf"
    conf.write_text("[DEFAULT]\nrpc_workers = 4\nkombu_ssl_cafile = /ca.pem\n")
    code, _, err = run("config", str(conf))
    assert code == 1
    assert "unknown option 'kombu_ssl_cafile' in [DEFAULT], ignored; did you mean " \
           "'kombu_ssl_certfile'?" in err
    assert "'rpc_workers' in [DEFAULT] is not a messaging option" in err


def test_new_style_driver_lines_are_all_kept(run: Run, tmp_path: Path) -> None:
    conf = tmp_path / "svc.conf"
    conf.write_text("[DEFAULT]\nnotification_driver = nova.notifier.log_notifier\n"
                    "[oslo_messaging_notifications]\ndriver = messagingv2\ndriver = routing\n"
                    "driver = log\n")
    code, out, err = run("config", str(conf))
    assert (code, err) == (0, "")
    assert _notify_drivers(out, tmp_path) == ["messagingv2", "routing", "log"]
