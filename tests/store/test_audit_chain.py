"""Tampering with any audit row is detected: edited, deleted, or reordered."""
import asyncio
import json
import sqlite3

import pytest
from typer.testing import CliRunner

from cli import app
from store import Store


async def filled_store(tmp_path, n=6):
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'recourse.db'}")
    for i in range(n):
        await store.append_audit(f"case-{i % 2}", [("note", {"i": i, "text": f"entry {i}"})])
    return store


async def verify(tmp_path):
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'recourse.db'}")
    try:
        return await store.verify_audit()
    finally:
        await store.close()


def tamper(tmp_path, sql):
    with sqlite3.connect(tmp_path / "recourse.db") as db:
        db.executescript(sql)


async def test_untouched_chain_verifies(tmp_path):
    store = await filled_store(tmp_path)
    report = await store.verify_audit()
    await store.close()
    assert report.ok and report.entries == 6


@pytest.mark.parametrize("sql, problem", [
    ("UPDATE audit SET payload = '{\"i\":2,\"text\":\"forged\"}' WHERE seq = 3", "entry 3 was altered"),
    ("DELETE FROM audit WHERE seq = 4", "entry 4 is missing"),
    ("DELETE FROM audit WHERE seq = 6", None),
    ("UPDATE audit SET seq = -1 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 5; UPDATE audit SET seq = 5 WHERE seq = -1",
     "entry 2 does not link"),
    ("UPDATE audit SET kind = 'approval.received' WHERE seq = 1", "entry 1 was altered"),
])
async def test_tampering_is_detected(tmp_path, sql, problem):
    store = await filled_store(tmp_path)
    head = (await store.verify_audit()).head
    await store.close()
    tamper(tmp_path, sql)
    report = await verify(tmp_path)
    if problem is None:  # truncating the tail keeps a valid chain; the exported head shows it
        assert report.ok and report.head != head
    else:
        assert not report.ok and problem in report.problem


def test_cli_audit_verify_exit_codes(tmp_path):
    async def fill():
        await (await filled_store(tmp_path)).close()

    asyncio.run(fill())
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--data-dir", str(tmp_path)])
    assert ok.exit_code == 0 and "intact" in ok.output
    tamper(tmp_path, "UPDATE audit SET at = '2020-01-01' WHERE seq = 2")
    broken = runner.invoke(app, ["audit", "verify", "--data-dir", str(tmp_path)])
    assert broken.exit_code == 1 and "entry 2 was altered" in broken.output
    missing = runner.invoke(app, ["audit", "verify", "--data-dir", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "--data-dir" in missing.output


def test_exported_head_detects_a_truncated_or_rewritten_tail(tmp_path):
    async def fill():
        await (await filled_store(tmp_path)).close()

    asyncio.run(fill())
    runner = CliRunner()
    exported = json.loads(runner.invoke(app, ["audit", "head", "--data-dir", str(tmp_path)]).output)
    args = ["audit", "verify", "--data-dir", str(tmp_path), "--expect-head", exported["head"],
            "--expect-entries", str(exported["entries"])]
    assert runner.invoke(app, args).exit_code == 0
    tamper(tmp_path, "DELETE FROM audit WHERE seq = 6")  # the remaining chain is internally valid
    assert runner.invoke(app, ["audit", "verify", "--data-dir", str(tmp_path)]).exit_code == 0
    truncated = runner.invoke(app, args)
    assert truncated.exit_code == 1 and "is not entry 6 any more" in truncated.output
