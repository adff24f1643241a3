import time
import httpx
from postlog.runtime import Runtime
from tests.integration.test_import_api import upload, finished, projected, reset, domain
from tests.integration.subscribers_support import make_list, get_list

async def test_speed(api: httpx.AsyncClient, runtime: Runtime) -> None:
    await reset(api)
    listed = await make_list(api)
    d = domain()
    body = ("email,name,attributes\n" + "".join(f'user{i}@{d},User {i},"{{""city"": ""C{i % 13}"", ""n"": {i}}}"\n' for i in range(100000))).encode()
    t = time.perf_counter()
    r = await upload(api, body, "big.csv", mode="subscribe", lists=[listed["id"]])
    assert r.status_code == 200, r.text
    t1 = time.perf_counter()
    done = await finished(api, within=600)
    t2 = time.perf_counter()
    await projected(runtime)
    t3 = time.perf_counter()
    print(f"\nupload {t1-t:.2f}s import {t2-t:.2f}s ({100000/(t2-t):.0f} rows/s) projected {t3-t:.2f}s {done}")
    print(await get_list(api, listed["id"]))
    await reset(api)
