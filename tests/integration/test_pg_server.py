"""The throwaway PostgreSQL server of the test run works the way the central database must.

Order claims rely on ``SELECT ... FOR UPDATE SKIP LOCKED``: two stations asking at once must
get different orders. This proves the server, the driver and the fixtures support it.
"""

from __future__ import annotations

import sqlalchemy as sa


def test_server_answers_select_1(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("select 1")).scalar_one() == 1
            version = conn.execute(sa.text("show server_version_num")).scalar_one()
            assert int(version) >= 150000, f"PostgreSQL 15 or newer expected, got {version}"
    finally:
        engine.dispose()


def test_skip_locked_gives_concurrent_claimers_different_rows(fresh_pg_database: str) -> None:
    engine = sa.create_engine(fresh_pg_database)
    claim = sa.text(
        "SELECT id FROM claim_test WHERE claimed_by IS NULL ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
    )
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE claim_test (id int PRIMARY KEY, claimed_by text)"))
            conn.execute(sa.text("INSERT INTO claim_test (id) VALUES (1), (2), (3)"))
        with engine.connect() as first, engine.connect() as second:
            first_tx = first.begin()
            second_tx = second.begin()
            first_id = first.execute(claim).scalar_one()
            second_id = second.execute(claim).scalar_one()  # does not wait for the first lock
            assert (first_id, second_id) == (1, 2)
            first.execute(sa.text("UPDATE claim_test SET claimed_by = 'A' WHERE id = :i"), {"i": first_id})
            second_tx.rollback()  # station B gives its claim back
            first_tx.commit()
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, claimed_by FROM claim_test ORDER BY id")).all()
        assert [tuple(row) for row in rows] == [(1, "A"), (2, None), (3, None)]
    finally:
        engine.dispose()


def test_each_test_gets_its_own_empty_database(fresh_pg_database: str, pg_url: str) -> None:
    assert fresh_pg_database != pg_url
    engine = sa.create_engine(fresh_pg_database)
    try:
        with engine.connect() as conn:
            tables = conn.execute(
                sa.text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            ).scalar_one()
        assert tables == 0, "a fresh database must not contain another test's tables"
    finally:
        engine.dispose()
