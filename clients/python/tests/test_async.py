"""AsyncClient against a real `faas up`, and Executor futures in asyncio."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from conftest import ADD_WAT, TRAP_WAT, Server

from faas_client import AsyncClient, Client, Executor, NotFound, TaskFailed, TaskNotFinished

WAIT = 120.0


def test_async_client_basics(server: Server) -> None:
    async def main() -> None:
        async with AsyncClient(server.url, server.token) as c:
            fid = await c.register(ADD_WAT, "add")
            tid = await c.submit(fid, [20, 22])
            assert await c.result(tid, wait=WAIT) == 42
            assert await c.status(tid) == "COMPLETED"
            ids = await c.submit_batch(fid, [[i, 1] for i in range(10)])
            rows = await c.results(ids, wait=WAIT)
            assert [r["result"] for r in rows] == list(range(1, 11))
            # Many at once on one connection pool.
            values = await asyncio.gather(*(c.result(t, wait=WAIT) for t in ids))
            assert values == list(range(1, 11))
            assert fid in {f["function_id"] for f in await c.functions(limit=1000)}
            assert await c.tasks(limit=2)
            assert (await c.task(tid))["result"] == 42
            with pytest.raises(NotFound):
                await c.submit(str(uuid.uuid4()), [1, 2])
            with pytest.raises(NotFound):
                await c.result(str(uuid.uuid4()), wait=1)
            boom = await c.register(TRAP_WAT, "boom")
            with pytest.raises(TaskFailed) as failed:
                await c.result(await c.submit(boom, [1]), wait=WAIT)
            assert failed.value.kind == "trap"

    asyncio.run(main())


def test_executor_futures_in_asyncio(server: Server, client: Client) -> None:
    fid = server.function(ADD_WAT, "add")

    async def main() -> list:
        with Executor(client, fid) as ex:
            futures = [asyncio.wrap_future(ex.submit([i, 2])) for i in range(20)]
            return await asyncio.wait_for(asyncio.gather(*futures), WAIT)

    assert asyncio.run(main()) == [i + 2 for i in range(20)]


def test_not_finished_is_a_timeout_error() -> None:
    e = TaskNotFinished("t", "QUEUED")
    assert isinstance(e, TimeoutError) and e.status == "QUEUED" and "t" in str(e)
