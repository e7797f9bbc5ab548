"""Station configuration: the embedded default, TOML files, and clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from packstation.config import (
    Config,
    ConfigError,
    load_config,
    parse_config,
    to_toml_dict,
    with_database,
)

FULL = """
data_dir = "/srv/packstation"

[station]
id = "BENCH-07"
name = "Bench 7"

[database]
local = "/srv/packstation/bench7.db"
central = "postgresql+psycopg://pack@central/packstation"

[packing]
tolerance_pct = 3
tolerance_g = 25
gs1_company_prefix = "4012345"
sscc_extension = 3
accept_typed_sku = true
unknown_lot = "warn"

[security]
lead_pin_required = false

[numbers]
sscc_first = 500001
sscc_last = 600000
block_size = 50

[scale]
port = "socket://127.0.0.1:4001"
protocol = "mt-sics"
baudrate = 9600

[label_printer]
url = "tcp://10.0.0.20:9100"
language = "zpl"

[scanner]
serial = "/dev/ttyACM0"
"""


def test_no_file_and_no_environment_is_the_embedded_demo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PACKSTATION_CONFIG", raising=False)
    monkeypatch.setenv("PACKSTATION_DATA_DIR", str(tmp_path / "data"))
    config = load_config()
    assert config.station.demo is True and config.source is None
    assert config.data_dir == tmp_path / "data"
    assert config.database_url == f"sqlite:///{tmp_path / 'data' / 'packstation.db'}"
    assert config.scale.protocol == "simulated"
    # issue 8's safe defaults: leads need a PIN, a typed SKU is no item, and the SSCC range is
    # BENCH-01's own slice (the second of 100) of the 9 serial digits the 7-digit prefix leaves
    assert config.security.lead_pin_required is True and config.packing.accept_typed_sku is False
    assert config.sscc_range == (10_000_000, 19_999_999) and not config.sscc_range_configured


@pytest.mark.parametrize("station_id, expected", [
    ("BENCH-00", (1, 9_999_999)), ("BENCH-01", (10_000_000, 19_999_999)),
    ("BENCH-02", (20_000_000, 29_999_999)), ("PACK 17", (170_000_000, 179_999_999)),
    ("BENCH-199", (990_000_000, 999_999_999)),
])
def test_a_standalone_station_without_a_range_takes_its_own_slice(
        tmp_path: Path, station_id: str, expected: tuple[int, int]) -> None:
    config = parse_config(f'data_dir = "{tmp_path}"\n[station]\nid = "{station_id}"\n')
    assert config.sscc_range == expected


def test_without_a_number_in_its_id_a_station_takes_a_stable_slice_and_shared_databases_the_whole_range(
        tmp_path: Path) -> None:
    named = [parse_config(f'data_dir = "{tmp_path}"\n[station]\nid = "{i}"\n').sscc_range
             for i in ("RETURNS", "RETURNS", "DOCK")]
    assert named[0] == named[1] and named[0][1] - named[0][0] == 9_999_999
    central = parse_config(f'data_dir = "{tmp_path}"\n[station]\nid = "BENCH-05"\n'
                           '[database]\ncentral = "postgresql+psycopg://c/x"\n')
    shared = parse_config(f'data_dir = "{tmp_path}"\n[station]\nid = "BENCH-05"\n'
                          '[database]\nlocal = "postgresql+psycopg://db/shared"\n')
    assert central.sscc_range == shared.sscc_range == (1, 999_999_999)
    given = parse_config(f'data_dir = "{tmp_path}"\n[station]\nid = "BENCH-05"\n[numbers]\nsscc_last = 500\n')
    assert given.sscc_range == (1, 500) and given.sscc_range_configured
    # a 10-digit company prefix leaves 6 serial digits: slices of 10,000 would run out: the whole range
    long_prefix = parse_config(f'data_dir = "{tmp_path}"\n[station]\nid = "BENCH-05"\n'
                               '[packing]\ngs1_company_prefix = "4012345678"\n')
    assert long_prefix.sscc_range == (1, 999_999)
    eight = parse_config(f'data_dir = "{tmp_path}"\n[station]\nid = "BENCH-05"\n'
                         '[packing]\ngs1_company_prefix = "40123456"\n')
    assert eight.sscc_range == (5_000_000, 5_999_999)  # 8 digits: slices of 1,000,000


def test_a_full_file_is_read_with_every_section(tmp_path: Path) -> None:
    path = tmp_path / "bench.toml"
    path.write_text(FULL, encoding="utf-8")
    config = load_config(path)
    assert config.source == path and config.station.demo is False
    assert (config.station.id, config.station.name) == ("BENCH-07", "Bench 7")
    assert config.database_url == "sqlite:////srv/packstation/bench7.db"
    assert config.database.central.startswith("postgresql+psycopg://")
    assert (config.packing.tolerance_pct, config.packing.tolerance_g) == (3.0, 25)
    assert isinstance(config.packing.tolerance_pct, float)
    assert (config.packing.gs1_company_prefix, config.packing.sscc_extension) == ("4012345", 3)
    assert (config.packing.accept_typed_sku, config.packing.unknown_lot) == (True, "warn")
    assert config.security.lead_pin_required is False
    assert config.sscc_range == (500001, 600000) and config.numbers.block_size == 50
    assert config.scale.port == "socket://127.0.0.1:4001" and config.scale.protocol == "mt-sics"
    assert config.label_printer.url == "tcp://10.0.0.20:9100" and config.label_printer.language == "zpl"
    assert config.scanner.serial == ("/dev/ttyACM0",)  # one string is a list of one
    assert config.data_dir == Path("/srv/packstation")


def test_the_environment_variable_names_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "env.toml"
    path.write_text('[station]\nid = "BENCH-ENV"\n', encoding="utf-8")
    monkeypatch.setenv("PACKSTATION_CONFIG", str(path))
    assert load_config().station.id == "BENCH-ENV"


@pytest.mark.parametrize(
    ("local", "url"),
    [
        ("", None),
        ("/var/lib/ps/station.db", "sqlite:////var/lib/ps/station.db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///relative.db", "sqlite:///relative.db"),
        ("~/bench.db", f"sqlite:///{Path.home() / 'bench.db'}"),
    ],
)
def test_database_url_from_a_path_or_a_url(local: str, url: str | None, tmp_path: Path) -> None:
    config = with_database(Config(data_dir=tmp_path), local)
    assert config.database_url == (url or f"sqlite:///{tmp_path / 'packstation.db'}")


def test_a_file_that_cannot_be_read_says_which(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file .*missing.toml"):
        load_config(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[station\nid = 1", "not valid TOML"),
        ("[printer]\nurl = 'x'", r"unknown section \[printer\]"),
        ("[station]\nbench = 'x'", "unknown key 'bench'; known keys: id, name"),
        ("station = 3", r"\[station\] must be a table"),
        ("[station]\ndemo = 'yes'", "demo must be true or false"),
        ("[scale]\nbaudrate = '9600'", "baudrate must be a number"),
        ("[scale]\nbaudrate = true", "baudrate must be a number"),
        ("[scanner]\nserial = [1, 2]", "serial must be a list of strings"),
        ("[station]\nid = 7", "id must be a string"),
    ],
)
def test_bad_files_are_refused_with_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(text)


def test_a_fractional_value_for_a_whole_number_is_refused_not_truncated() -> None:
    with pytest.raises(ConfigError, match="tolerance_g must be a whole number, got 20.5"):
        parse_config("[packing]\ntolerance_g = 20.5")
    assert parse_config("[packing]\ntolerance_g = 20.0").packing.tolerance_g == 20


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[packing]\ngs1_company_prefix = "12345"', "6 to 12 digits"),
        ('[packing]\ngs1_company_prefix = "1234567890123"', "6 to 12 digits"),
        ('[packing]\ngs1_company_prefix = "40123A5"', "6 to 12 digits"),
        ("[packing]\nsscc_extension = 10", "0 to 9"),
        ("[packing]\ntolerance_pct = -1", "cannot be negative"),
        ('[packing]\ncarton_prefix = " "', "carton_prefix cannot be empty"),
        ('[station]\nid = ""', "id cannot be empty"),
        ('[packing]\nunknown_lot = "ignore"', "unknown_lot must be refuse or warn"),
        ("[security]\nlead_pin_required = 0", "lead_pin_required must be true or false"),
        ("[numbers]\nsscc_first = -1", "sscc_first must be at least 1"),
        ('[packing]\ngs1_company_prefix = "061414100000"\n[numbers]\nsscc_last = 10000', "must stay below 10000"),
    ],
)
def test_values_that_would_fail_at_the_bench_are_refused_at_start(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(text)


def test_settings_round_trip_through_toml(tmp_path: Path) -> None:
    original = parse_config(FULL)
    path = tmp_path / "saved.toml"
    path.write_text(tomli_w.dumps(to_toml_dict(original)), encoding="utf-8")
    again = load_config(path)
    assert again.source == path
    assert to_toml_dict(again) == to_toml_dict(original)
    assert again.packing == original.packing and again.scanner == original.scanner
    assert again.security == original.security and again.numbers == original.numbers


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[scale]\nprotocol = 'mettler'", "[scale] protocol must be one of mt-sics"),
        ("[label_printer]\nlanguage = 'epl'", "[label_printer] language must be one of zpl"),
        ("[document_printer]\nsize = 'A6'", "[document_printer] size must be one of 4x6"),
        ("[label_printer]\ndpi = 600", "dpi must be 203 or 300"),
    ],
)
def test_device_values_the_station_cannot_drive_are_refused(toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(toml)
    assert message in str(err.value)


def test_scale_baudrate_zero_means_the_protocol_default() -> None:
    assert parse_config("[scale]\nprotocol = 'adam'").scale.baudrate == 0
    assert parse_config("[label_printer]\nurl = '/dev/ttyS0'\nbaudrate = 19200").label_printer.baudrate == 19200


def test_a_relative_database_file_lives_in_the_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = parse_config(f'data_dir = "{tmp_path / "data"}"\n[database]\nlocal = "bench07.db"\n')
    assert config.database_url == f"sqlite:///{tmp_path / 'data' / 'bench07.db'}"


@pytest.mark.parametrize(("toml", "message"), [
    ('[returns]\ngrades = ["A new", "A again"]', "each code once"),
    ('[returns]\ngrades = ["", "B used"]', "a grade starts with its code"),
    ('[returns]\nphoto_required_below = "E"', "photo_required_below must be one of the grades"),
    ('[returns]\nno_refund_grades = ["LOST"]', "no_refund_grades names grades that are not in grades: LOST"),
    ('[returns]\nrestocking_fee_pct = 120', "percentages from 0 to 100"),
    ('[returns]\nlegal_entity = "ACME CORP"', "legal_entity must be 1 to 16 letters"),
    ('[returns]\nreasons = []', "reasons must list 1 to 20 reasons"),
    ('[returns]\ncamera = "/dev/video0"', "[returns] camera must be"),
    ('[bench]\ncamera = "folder:"', "[bench] camera must be"),
])
def test_returns_desk_values_that_cannot_work_are_refused(toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(toml)
    assert message in str(err.value)


def test_the_returns_policy_comes_from_the_config() -> None:
    from decimal import Decimal

    from packstation.bootstrap import returns_policy

    config = parse_config('[returns]\ngrades = ["NEW as new", "USED: used", "BAD"]\nphoto_required_below = "new"\n'
                          'no_refund_grades = ["bad"]\nrestocking_fee_pct = 7.5\ntax_rate_pct = 21\n'
                          'legal_entity = "ACME"\ncamera = "folder:/srv/shots"\n[bench]\ncamera = "qt:front"')
    policy = returns_policy(config)
    assert [(g.code, g.label) for g in policy.grades] == [("NEW", "as new"), ("USED", "used"), ("BAD", "BAD")]
    assert policy.needs_photo("USED") and not policy.needs_photo("NEW") and not policy.refundable("BAD")
    assert (policy.restocking_fee_pct, policy.tax_rate, policy.legal_entity) == (Decimal("7.5"), Decimal("0.21"), "ACME")
    assert (config.returns.camera, config.bench.camera) == ("folder:/srv/shots", "qt:front")
