"""Client against a real `faas up` (embedded store and Redis)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from conftest import ADD_WAT, NOOP_WAT, SPIN_WAT, TRAP_WAT, Server

from faas_client import (
    BadRequest,
    Client,
    FaasError,
    NotFound,
    TaskFailed,
    TaskNotFinished,
    Unauthorized,
)

WAIT = 120.0  # generous: a loaded 2-core machine


def test_register_submit_result(server: Server, client: Client) -> None:
    fid = client.register(ADD_WAT, "add")
    uuid.UUID(fid)
    tid = client.submit(fid, [2, 3])
    uuid.UUID(tid)
    assert client.result(tid, wait=WAIT) == 5
    assert client.status(tid) == "COMPLETED"
    record = client.task(tid)
    assert record["payload"] == [2, 3] and record["result"] == 5 and record["failure_kind"] is None


def test_register_a_file_takes_its_name(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "adder.wat"
    path.write_bytes(ADD_WAT)
    fid = client.register(path)
    rows = {row["function_id"]: row for row in client.functions(limit=1000)}
    assert rows[fid]["name"] == "adder"
    assert rows[fid]["kind"] == "typed"
    assert client.result(client.submit(fid, [40, 2]), wait=WAIT) == 42
    with pytest.raises(ValueError):
        client.register(ADD_WAT)  # bytes need a name


def test_submit_batch_and_results_in_order(server: Server, client: Client) -> None:
    fid = server.function(ADD_WAT, "add")
    ids = client.submit_batch(fid, [[i, 100] for i in range(25)])
    assert len(ids) == 25 and len(set(ids)) == 25
    rows = client.results(ids, wait=WAIT)
    assert [r["task_id"] for r in rows] == ids
    assert [r["status"] for r in rows] == ["COMPLETED"] * 25
    assert [r["result"] for r in rows] == [i + 100 for i in range(25)]


def test_submit_batch_above_the_cap_is_split(server: Server, client: Client) -> None:
    fid = server.function(NOOP_WAT, "noop")
    ids = client.submit_batch(fid, ([] for _ in range(10_001)))
    assert len(ids) == 10_001 and len(set(ids)) == 10_001
    rows = client.results(ids, wait=WAIT)  # two requests of at most 10,000 ids
    assert len(rows) == 10_001
    assert {r["status"] for r in rows} == {"COMPLETED"}


def test_results_of_an_unknown_id(client: Client) -> None:
    unknown = str(uuid.uuid4())
    (row,) = client.results([unknown])
    assert row["task_id"] == unknown and row["status"] is None and row["error"] == "unknown task"


def test_errors_carry_status_and_detail(server: Server, client: Client) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(NotFound) as e:
        client.submit(missing, [1, 2])
    assert e.value.status_code == 404 and missing in e.value.detail
    with pytest.raises(NotFound):
        client.status(str(uuid.uuid4()))
    with pytest.raises(NotFound):
        client.result(str(uuid.uuid4()))

    fid = server.function(ADD_WAT, "add")
    with pytest.raises(BadRequest) as bad:
        client.submit(fid, ["two", 3])
    assert bad.value.status_code == 400 and bad.value.detail
    with pytest.raises(BadRequest) as bad_batch:
        client.submit_batch(fid, [[1, 2], [1], [3, 4]])
    assert bad_batch.value.payload_index == 1 and "payloads[1]" in bad_batch.value.detail
    with pytest.raises(BadRequest):
        client.register(b"(module", "broken")

    with Client(server.url, "not-a-key") as stranger:
        with pytest.raises(Unauthorized) as denied:
            stranger.functions()
    assert denied.value.status_code == 401 and denied.value.detail
    assert isinstance(denied.value, FaasError)


def test_failing_task_raises_task_failed(server: Server, client: Client) -> None:
    fid = server.function(TRAP_WAT, "boom")
    tid = client.submit(fid, [7])
    with pytest.raises(TaskFailed) as failed:
        client.result(tid, wait=WAIT)
    assert failed.value.task_id == tid
    assert failed.value.kind == "trap"
    assert "unreachable" in failed.value.message
    assert client.status(tid) == "FAILED"
    (row,) = client.results([tid])
    assert row["status"] == "FAILED" and "unreachable" in row["result"]


def test_unfinished_task_and_cancel(server: Server, client: Client) -> None:
    fid = server.function(SPIN_WAT, "spin")
    tid = client.submit(fid, [10**13])  # far longer than the time limit
    with pytest.raises(TaskNotFinished) as pending:
        client.result(tid)  # no wait: one look
    assert pending.value.status in ("QUEUED", "RUNNING") and pending.value.task_id == tid
    assert isinstance(pending.value, TimeoutError)
    with pytest.raises(TaskNotFinished):
        client.result(tid, wait=0.2)
    outcome = client.cancel([tid, str(uuid.uuid4())])
    assert outcome["cancelled"] == [tid] and len(outcome["unknown"]) == 1
    with pytest.raises(TaskFailed) as failed:
        client.result(tid, wait=WAIT)
    assert failed.value.kind == "cancelled"


def test_functions_and_tasks_listings(server: Server, client: Client) -> None:
    fid = server.function(ADD_WAT, "add")
    ids = client.submit_batch(fid, [[1, 1], [2, 2], [3, 3]])
    client.results(ids, wait=WAIT)
    functions = client.functions()
    assert fid in {f["function_id"] for f in functions}
    assert len(client.functions(limit=1)) == 1
    recent = client.tasks(limit=3)
    assert 1 <= len(recent) <= 3
    assert {"task_id", "function_id", "status", "attempts"} <= set(recent[0])
    completed = client.tasks(limit=1000, status="completed")
    assert completed and {t["status"] for t in completed} == {"COMPLETED"}
    assert set(ids) <= {t["task_id"] for t in completed}
    with pytest.raises(BadRequest):
        client.tasks(status="sleeping")


def test_url_and_token_from_the_environment(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAAS_CONFIG_DIR", str(server.config_dir))
    monkeypatch.delenv("FAAS_TOKEN", raising=False)
    # The credentials file names 127.0.0.1; localhost and a slash find it too.
    monkeypatch.setenv("FAAS_URL", server.url.replace("127.0.0.1", "localhost") + "/")
    with Client() as c:
        assert c.token == server.token
        assert isinstance(c.functions(), list)
    monkeypatch.setenv("FAAS_TOKEN", "from-env")
    with Client(server.url) as c:
        assert c.token == "from-env"
    with Client(server.url, token=server.token) as c:
        assert c.token == server.token
