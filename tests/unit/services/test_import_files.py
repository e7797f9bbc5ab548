"""Reading import files as a stream (``services.import_files``), pieces made tiny.

With 1 MiB pieces a test file would fit in one; here a piece is a few bytes, so every record,
number, string, escape and multi-byte character is cut somewhere, and what comes out must be
what ``json.loads`` / ``csv`` make of the whole file, errors at the same line and column.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeStaging

from packstation.services import import_files
from packstation.services.import_files import ImportFileError, RecordError, iter_records


@pytest.fixture(params=[1, 3, 7, 64, 1 << 20], ids=lambda n: f"piece={n}")
def piece(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(import_files, "_PIECE", request.param)
    return int(request.param)


def read(path: Path, kind: str = "catalog") -> list[tuple[str, Any]]:
    return list(iter_records(path, kind, FakeStaging()))


def written(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


RECORDS = [
    {"sku": "A-1", "name": "Crème brûlée torch 🔥", "weight_g": 1234567, "price": 12.5, "tags": ["x\\\"y", "\u2028"]},
    {"sku": "B-2", "name": "Ελληνικά \u00e9\u0301", "weight_g": 0, "nested": {"deep": [1, [2, [3.25e-3]]]}},
    {"sku": "C-3", "name": "x" * 300, "weight_g": 98765432109876543210987, "flag": True, "none": None},
]


def test_a_json_array_comes_out_record_by_record_as_json_loads_reads_it(tmp_path: Path, piece: int) -> None:
    text = json.dumps(RECORDS, ensure_ascii=False, indent=1)
    got = read(written(tmp_path, "c.json", text))
    assert [pos for pos, _ in got] == ["record 1", "record 2", "record 3"]
    assert [rec for _, rec in got] == json.loads(text, parse_float=import_files.Decimal,
                                                 parse_int=import_files._parse_int)


@pytest.mark.parametrize("text", [
    '[{"sku": "A-1"}, {"sku": "A-2", "name": "Mug"',  # cut off
    '[{"sku": "A-1"},\n {"sku": "A-2" "name": "Mug"}]',  # a comma missing
    '[{"sku": "A-1"}\n\n  {"sku": "A-2"}]',  # between records
    '[{"sku": "A-1"}, ]',  # a trailing comma
    '[{"sku": "A-1"}] [1]',  # extra data
    'sku,name,weight_g\nA-1,Mug,300\n',  # not JSON at all
    '[{"sku": "A-\\x1"}]',  # a bad escape
    '[{"sku": "A-1", "name": "Mug\n"}]',  # a raw newline in a string
])
def test_broken_json_is_refused_at_the_line_and_column_json_loads_names(tmp_path: Path, piece: int, text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    with pytest.raises(ImportFileError) as got:
        read(written(tmp_path, "c.json", text))
    where = f"at line {expected.value.lineno}, column {expected.value.colno}"
    assert f"is not valid JSON: {expected.value.msg} {where}" in str(got.value)


@pytest.mark.parametrize("text, message", [
    ("  \n ", "is empty"), ("[]", "holds no records (an empty array)"), ('{"sku": "A-1"}', "found an object"),
    ('"just text"', "expected a JSON array of records."), ("[1, NaN]", "NaN is not a number in JSON"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_a_json_file_that_is_no_array_of_records_is_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ImportFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read(written(tmp_path, "c.json", text))


def test_non_objects_in_the_array_are_records_the_checks_refuse(tmp_path: Path, piece: int) -> None:
    got = read(written(tmp_path, "c.json", '[1, "two", {"sku": "A-3"}, 44]'))
    assert got == [("record 1", 1), ("record 2", "two"), ("record 3", {"sku": "A-3"}), ("record 4", 44)]


def test_ndjson_lines_keep_their_numbers_and_a_broken_line_is_a_record_error(tmp_path: Path, piece: int) -> None:
    lines = [json.dumps(RECORDS[0], ensure_ascii=False), "", '{"sku": "X", ', "  ", json.dumps(RECORDS[1]) + "\r",
             json.dumps({"name": "line\u2028separator\u0085"}, ensure_ascii=False)]
    got = read(written(tmp_path, "c.ndjson", "\n".join(lines)))
    assert [pos for pos, _ in got] == ["line 1", "line 3", "line 5", "line 6"]
    assert isinstance(got[1][1], RecordError) and str(got[1][1]).startswith("not valid JSON")
    assert got[2][1]["sku"] == "B-2" and got[3][1] == {"name": "line\u2028separator\u0085"}


@pytest.mark.parametrize("suffix", [".json", ".ndjson", ".csv"])
@pytest.mark.parametrize("encode, message", [
    (lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"), None),
    (lambda t: t.encode("utf-16"), "is UTF-16 text, not UTF-8"),
    (lambda t: t.encode("utf-32-le"), "is UTF-32 text, not UTF-8"),
    (lambda t: t.encode("utf-8").replace(b"\xc3\xa8", b"\xe8"), "is not UTF-8 text (bad byte 0xE8 on line 3;"),
    (lambda t: t.encode("utf-8").replace(b"Mug", b"M\x00g"), "contains NUL bytes: it is a binary file"),
])
def test_encodings_bom_and_nul_are_checked_on_the_way(tmp_path: Path, piece: int, suffix: str, encode: Any,
                                                      message: str | None) -> None:
    body = {".json": '[\n{"sku": "A-1", "name": "Mug"},\n{"sku": "A-2", "name": "Crème"}\n]',
            ".ndjson": '{"sku": "A-1", "name": "Mug"}\n\n{"sku": "A-2", "name": "Crème"}\n',
            ".csv": "sku,name\nA-1,Mug\nA-2,Crème\n"}[suffix]
    path = written(tmp_path, f"c{suffix}", encode(body))
    if message is None:
        assert [rec["name"] for _, rec in read(path)] == ["Mug", "Crème"]
    else:
        with pytest.raises(ImportFileError, match=message.replace("(", r"\(")):
            read(path)


def test_csv_rows_of_one_order_are_grouped_wherever_they_are(tmp_path: Path, piece: int) -> None:
    text = ("order_id,channel,customer.name,sku,qty,unit_price\n"
            "SO-1,web,Anna,A-1,1,1.00\n"
            "SO-2,web,Jan,A-2,2,2.00\n"
            'SO-1,web,Anna,"A-3",3,3.00\n'
            "SO-3,web\n"
            "SO-2,ebay,Jan,A-4,4,4.00\n")
    got = read(written(tmp_path, "o.csv", text), "orders")
    assert [pos for pos, _ in got] == ["line 2", "line 3", "line 6", "line 5"]
    assert got[0][1] == {"order_id": "SO-1", "channel": "web", "customer": {"name": "Anna"},
                         "lines": [{"sku": "A-1", "qty": "1", "unit_price": "1.00"},
                                   {"sku": "A-3", "qty": "3", "unit_price": "3.00"}]}
    assert [ln["sku"] for ln in got[1][1]["lines"]] == ["A-2"]
    assert str(got[2][1]) == "order_id SO-2 repeats with different channel than line 3"
    assert str(got[3][1]) == "has 2 columns, the header has 6"


def test_csv_positions_are_physical_lines_after_a_field_over_several_lines(tmp_path: Path, piece: int) -> None:
    text = 'sku,name\nA-1,"Mug\nwith\r\na break"\nA-2,Plate\r\n\r\nA-3,Bowl\n'
    got = read(written(tmp_path, "c.csv", text))
    assert [(pos, rec["sku"]) for pos, rec in got] == [("line 2", "A-1"), ("line 5", "A-2"), ("line 7", "A-3")]
    assert got[0][1]["name"] == "Mug\nwith\r\na break"


@pytest.mark.parametrize("name, data, message", [
    ("e.csv", b"", "is empty. Export"), ("b.csv", b"\xef\xbb\xbf \n", "is empty. Export"),
    ("h.csv", b" , \nA-1,Mug\n", "is empty: the first line must name the columns"),
    ("o.csv", b"sku,name\n", "holds no records: only the header line"),
    ("e.ndjson", b"\n \n", "is empty"), ("x.xml", b"<a/>", "unknown file type '.xml'"),
])
def test_empty_files_and_unknown_types_are_refused(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    with pytest.raises(ImportFileError, match=message):
        read(written(tmp_path, name, data))


def test_a_record_is_held_alone_not_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(import_files, "MAX_RECORD_BYTES", 1000)
    monkeypatch.setattr(import_files, "_PIECE", 64)
    fine = json.dumps([{"sku": f"A-{i}", "name": "x" * 500} for i in range(50)])  # 25 kB, each record < 1 kB
    assert len(read(written(tmp_path, "ok.json", fine))) == 50
    with pytest.raises(ImportFileError, match="record 2 is larger than"):
        read(written(tmp_path, "big.json", json.dumps([{"a": 1}, {"name": "x" * 5000}])))
    with pytest.raises(ImportFileError, match="line 2 is longer than"):
        read(written(tmp_path, "big.ndjson", '{"a": 1}\n' + json.dumps({"name": "x" * 5000}) + "\n"))
