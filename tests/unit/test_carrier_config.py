"""``[carriers.<CODE>]`` in the config: the shape, and clear refusals of what would fail later."""

from __future__ import annotations

import pytest

from packstation.config import ConfigError, parse_config, to_toml_dict
from packstation.domain.shipping import parse_carrier_code

GOOD = """
[carriers.DHL]
connector = "dhl_parcel_de"
credentials = { username = "user", password = "env:DHL_PASSWORD", client_id = "id", client_secret = "env:DHL_SECRET" }
options = { default_billing_number = "33333333330102", label_type = "ZPL2_910_300_700" }
services = { Paket = "dhl_parcel_de_paket" }
timeout_s = 4
track_every_s = 600

[carriers.postnl]
connector = "simulated"
"""


def test_carrier_accounts_are_read_with_their_credentials_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("DHL_PASSWORD", "s3cret")
    monkeypatch.delenv("DHL_SECRET", raising=False)
    config = parse_config(GOOD)
    dhl, postnl = config.carriers
    assert (dhl.code, dhl.connector, dhl.timeout_s, dhl.track_every_s) == ("DHL", "dhl_parcel_de", 4.0, 600.0)
    assert dhl.settings() == {"username": "user", "password": "s3cret", "client_id": "id", "client_secret": ""}
    assert dhl.services == {"Paket": "dhl_parcel_de_paket"} and dhl.options["label_type"] == "ZPL2_910_300_700"
    assert postnl.code == "POSTNL" and postnl.label_format == "auto"
    # the settings dialog writes the file back with the env: references, never the secrets
    assert to_toml_dict(config)["carriers"]["DHL"]["credentials"]["password"] == "env:DHL_PASSWORD"


@pytest.mark.parametrize(("text", "says"), [
    ('[carriers.DHL]\nconnector = "dhl_parcel_de"\npassword = "x"\n', "unknown key 'password'"),
    ("[carriers.DHL]\ntimeout_s = 3\n", "needs connector"),
    ('[carriers.DHL]\nconnector = "simulated"\ntimeout_s = 0\n', "timeout_s must be a positive number"),
    ('[carriers.DHL]\nconnector = "simulated"\ntimeout_s = 90\n', "at most 60 s"),
    ('[carriers.DHL]\nconnector = "simulated"\nserver_url = "ftp://x"\n', "server_url must be an http"),
    ('[carriers.DHL]\nconnector = "simulated"\nlabel_format = "png"\n', "label_format must be one of"),
    ('[carriers.DHL]\nconnector = "simulated"\ncredentials = { username = 1 }\n', "credentials must be a table of strings"),
    ('[carriers."D H L"]\nconnector = "simulated"\n', "letters, digits"),
    ('[carriers.DHL]\nconnector = "simulated"\n[carriers.dhl]\nconnector = "simulated"\n', "configured twice"),
    ('carriers = "DHL"\n', "one table per carrier"),
    ('[carriers.DHL]\nconnector = "simulated"\ndelay_s = -1\n', "delay_s must be a number of seconds"),
    ('[carriers.DHL]\nconnector = "dhl_parcel_de"\ndelay_s = 2\n', "for the simulated carrier only"),
])
def test_bad_carrier_sections_are_refused_with_what_to_fix(text: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        parse_config(text)


def test_dock_card_carrier_codes() -> None:
    assert parse_carrier_code("CARRIER-DHL") == ("DHL", "")
    assert parse_carrier_code("carrier-dhl/express") == ("DHL", "EXPRESS")
    assert parse_carrier_code("CARRIER-") is None and parse_carrier_code("DHL") is None


def test_who_polls_tracking_exactly_one_place_by_default_and_the_setting_decides_otherwise() -> None:
    standalone = parse_config(GOOD)
    synced = parse_config('[database]\ncentral = "postgresql://centre/packstation"\n' + GOOD)
    assert standalone.poll_tracking is None and synced.poll_tracking is None
    # standalone: the station window polls, packstation serve does not; synced: the other way round
    assert (standalone.polls_tracking("station"), standalone.polls_tracking("serve")) == (True, False)
    assert (synced.polls_tracking("station"), synced.polls_tracking("serve")) == (False, True)
    on = parse_config('[database]\ncentral = "postgresql://centre/packstation"\n[carriers]\npoll_tracking = true\n' + GOOD)
    off = parse_config("[carriers]\npoll_tracking = false\n" + GOOD)
    assert on.polls_tracking("station") and on.polls_tracking("serve")
    assert not off.polls_tracking("station") and not off.polls_tracking("serve")
    assert [c.code for c in off.carriers] == ["DHL", "POSTNL"]  # the setting is no carrier account
    # no carrier account: nothing to poll anywhere
    assert not parse_config("").polls_tracking("station")
    assert not parse_config("[carriers]\npoll_tracking = false\n").polls_tracking("station")


def test_poll_tracking_survives_the_settings_dialog_round_trip() -> None:
    import tomli_w

    config = parse_config("[carriers]\npoll_tracking = false\n" + GOOD)
    again = parse_config(tomli_w.dumps(to_toml_dict(config)))
    assert again.poll_tracking is False and again.carriers == config.carriers
    assert "poll_tracking" not in to_toml_dict(parse_config(GOOD))["carriers"]  # unset stays unset


@pytest.mark.parametrize(("text", "says"), [
    ('[carriers]\npoll_tracking = "yes"\n[carriers.DHL]\nconnector = "simulated"\n',
     "poll_tracking must be true or false"),
    ('[carriers]\npoll_tracking = 1\n[carriers.DHL]\nconnector = "simulated"\n', "poll_tracking must be true or false"),
    ('[carriers.poll_tracking]\nconnector = "simulated"\n', "poll_tracking must be true or false"),
    ("[carriers]\npoll_tracking = true\n", "no carrier account to ask"),
    ('[carriers]\npoll_every_s = 5\n[carriers.DHL]\nconnector = "simulated"\n',
     r"\[carriers.poll_every_s\] must be a table .* the settings of \[carriers\] itself are: poll_tracking"),
])
def test_a_bad_poll_tracking_setting_is_refused_with_what_to_fix(text: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        parse_config(text)
