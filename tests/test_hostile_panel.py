"""A hostile or broken panel can neither take the bot down nor learn the key.

Every case talks to a real server on loopback (``hostile.py``); the memory cases each run in a
process of their own under a memory cap, all at once, and are bounded in time.
"""

import gc
import json
import logging
import os
import pickle
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import anyio.lowlevel
import httpx
import pytest
import smmapi

from hostile import MIB, body, bomb, endless, head, serve
from test_key_never_leaks import leaks, renderings, spellings

# Reading stops before the end of a too-long answer, and trio warns of the async generators of
# httpx and httpcore that were not exhausted (httpx gives no way to close them; the response
# and its connection are closed).
pytestmark = pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <async_generator object .*:pytest.PytestUnraisableExceptionWarning"
)

HOSTILE = Path(__file__).with_name("hostile.py")
#: The bound the memory cases are run with, and the address space their processes may have.
BOUND = 8 * MIB
CAP_MIB = 1024
#: Above the baseline process, a case may use a few bounds, plus one decompressed read of
#: httpx (up to about 1,000 times a 64 KiB read of the socket).
MOST_EXTRA_MEMORY = 4 * BOUND + 80 * MIB


@pytest.fixture(name="anyio_backend", params=["asyncio", "trio"])
def _anyio_backend(request: pytest.FixtureRequest) -> str:
    return request.param


def json_body(text: str | bytes, status: int = 200, reason: str = "OK", **headers: str) -> Any:
    data = text.encode() if isinstance(text, str) else text
    return body(data, status, reason, Content_Type="application/json", **headers)


# -- memory: each case in a process of its own, under a cap ------------------------------------


@pytest.fixture(name="memory_cases", scope="module")
def _memory_cases() -> dict[str, dict[str, Any]]:
    """Every memory case run at once, each in its own capped process: what each printed."""
    env = {**os.environ, "MALLOC_ARENA_MAX": "2"}
    cases = ["small", "gzip-bomb", "deflate-bomb", "endless-chunked", "200-MB-body"]
    command = [sys.executable, str(HOSTILE), "--max-answer-bytes", str(BOUND), "--cap-mib", str(CAP_MIB)]
    running = {
        case: subprocess.Popen([*command, case], stdout=subprocess.PIPE, env=env)  # noqa: S603  (this interpreter)
        for case in cases
    }
    results = {}
    for case, process in running.items():
        try:
            out, _ = process.communicate(timeout=60)
        finally:
            process.kill()
        results[case] = json.loads(out)
    return results


@pytest.mark.parametrize("case", ["gzip-bomb", "deflate-bomb", "endless-chunked", "200-MB-body"])
def test_an_endless_or_huge_answer_is_unreadable_within_a_few_bounds_of_memory(memory_cases, case):
    result, baseline = memory_cases[case], memory_cases["small"]

    assert baseline["outcome"] == "ok"
    assert result["outcome"] == "UnreadableAnswerError"
    assert result["peak_bytes"] - baseline["peak_bytes"] < MOST_EXTRA_MEMORY


@pytest.mark.anyio
async def test_a_compressed_answer_is_counted_after_decompression():
    async with serve(bomb("gzip")) as url, smmapi.AsyncClient(url, "k", max_answer_bytes=MIB) as client:
        with anyio.fail_after(20), pytest.raises(smmapi.UnreadableAnswerError, match="longer than 1048576"):
            await client.balance()


@pytest.mark.anyio
async def test_an_answer_past_the_bound_to_a_write_is_an_unknown_outcome():
    async with serve(endless()) as url, smmapi.AsyncClient(url, "k", max_answer_bytes=MIB) as client:
        with anyio.fail_after(20), pytest.raises(smmapi.OutcomeUnknownError) as caught:
            await client.add(service=1, link="https://example.com/p/1", quantity=100)

    assert isinstance(caught.value.__cause__, smmapi.UnreadableAnswerError)


@pytest.mark.anyio
async def test_an_answer_within_the_bound_is_read():
    answer = json.dumps({"balance": "1.5", "currency": "USD", "pad": "x" * 1000})
    async with serve(json_body(answer)) as url, smmapi.AsyncClient(url, "k", max_answer_bytes=2000) as client:
        with anyio.fail_after(10):
            balance = await client.balance()

    assert balance.balance == Decimal("1.5")


def test_the_default_bound_is_32_mib():
    assert smmapi.AsyncClient.__init__.__kwdefaults__["max_answer_bytes"] == 32 * MIB


# -- parsing: bounded, and every failure an SmmError ---------------------------------------------

HOSTILE_JSON = [
    pytest.param("[" * 5000 + "]" * 5000, id="nested-5000-deep"),
    pytest.param('{"order": ' + "[" * 900 + "]" * 900 + "}", id="nested-900-deep"),
    pytest.param('{"order": 1E+99999999999999999999}', id="exponent-beyond-decimal"),
    pytest.param('{"order": ' + "9" * 5000 + "}", id="int-of-5000-digits"),
    pytest.param('{"order": 1E+999999999999999999}', id="huge-decimal-id"),
]


@pytest.mark.anyio
@pytest.mark.parametrize("text", HOSTILE_JSON)
async def test_a_hostile_answer_to_a_write_is_an_unknown_outcome(text):
    async with serve(json_body(text)) as url, smmapi.AsyncClient(url, "k") as client:
        with anyio.fail_after(10), pytest.raises(smmapi.OutcomeUnknownError) as caught:
            await client.add(service=1, link="https://example.com/p/1", quantity=100)

    pickle.loads(pickle.dumps(caught.value))  # noqa: S301  (whatever it kept of the answer pickles)
    "".join(traceback.TracebackException.from_exception(caught.value, capture_locals=True).format())


@pytest.mark.anyio
@pytest.mark.parametrize("text", HOSTILE_JSON)
async def test_a_hostile_answer_to_a_read_is_unreadable(text):
    async with serve(json_body(text)) as url, smmapi.AsyncClient(url, "k", max_retries=0) as client:
        with anyio.fail_after(10), pytest.raises(smmapi.UnreadableAnswerError):
            await client.balance()


@pytest.mark.anyio
@pytest.mark.parametrize("text", HOSTILE_JSON)
async def test_a_hostile_bulk_answer_gives_each_id_its_error(text):
    async with serve(json_body(text)) as url, smmapi.AsyncClient(url, "k", max_retries=0) as client:
        with anyio.fail_after(10):
            results = await client.statuses([1, 2])

    assert list(results) == [1, 2]
    assert all(isinstance(result, smmapi.SmmError) for result in results.values())


@pytest.mark.anyio
@pytest.mark.parametrize(
    "amount",
    [
        pytest.param("1E+999999999999999999", id="exponent"),
        pytest.param('"1E+999999999999999999"', id="exponent-as-text"),
        pytest.param("1" * 19, id="19-digits"),
        pytest.param('"0.0000000000000000001"', id="19-places"),
    ],
)
async def test_money_outside_sane_ranges_is_unreadable(amount):
    answer = f'{{"balance": {amount}, "currency": "USD"}}'
    async with serve(json_body(answer)) as url, smmapi.AsyncClient(url, "k") as client:
        with anyio.fail_after(10), pytest.raises(smmapi.UnreadableAnswerError):
            await client.balance()


# -- the event loop keeps running while a big answer is read -------------------------------------


@pytest.fixture(name="no_gc")
def _no_gc() -> Iterator[None]:
    """The garbage collector off: its full collections, run by whichever thread allocates, pause
    every thread for a time that grows with the heap and are no part of what is measured here."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _catalogue(count: int) -> bytes:
    item = {"service": 0, "name": "Likes", "rate": "0.9", "min": "10", "max": "1000"}
    return json.dumps([{**item, "service": number} for number in range(1, count + 1)]).encode()


def _bulk_with_extra_ids(count: int) -> bytes:
    status = {"charge": "1", "status": "Completed", "remains": "0"}
    return json.dumps({str(number): status for number in range(1, count + 1)}).encode()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("answer", "call"),
    [
        pytest.param(_catalogue(50_000), lambda client: client.services(), id="catalogue-of-50k"),
        pytest.param(
            _bulk_with_extra_ids(100_000), lambda client: client.statuses([1, 2]), id="bulk-of-100k-ids"
        ),
    ],
)
async def test_the_event_loop_keeps_running_while_a_big_answer_is_read(answer, call, no_gc):
    gaps: list[float] = []
    done = anyio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await anyio.lowlevel.checkpoint()
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    async with (
        serve(json_body(answer)) as url,
        smmapi.AsyncClient(url, "k", max_answer_bytes=len(answer)) as client,
        anyio.create_task_group() as group,
    ):
        with anyio.fail_after(60):
            await anyio.wait_all_tasks_blocked()
            group.start_soon(tick)
            started = time.perf_counter()
            await call(client)
            took = time.perf_counter() - started
            done.set()

    # Read on the loop, the whole read is one gap; off it, the loop ticks all along.
    assert len(gaps) > 100
    assert max(gaps) < took / 3


# -- the key ---------------------------------------------------------------------------------------

#: Obviously fake keys, with the characters that escape differently in JSON, URLs and PHP.
KEYS = [
    pytest.param("FakeKey+With/Slash=Pad&Amp0123", id="plus-slash-equals-amp"),
    pytest.param("fake-key-letters-and-digits-0123", id="letters"),
]


def _answers(spelled: str) -> dict[str, tuple[Any, Any]]:
    """Each place a panel can put the echo: the answer, and the call that meets it."""
    text = spelled  # each spelling is also a JSON string's content

    def add(client: smmapi.AsyncClient) -> Any:
        return client.add(service=1, link="https://example.com/p/1", quantity=100)

    return {
        "error-text": (json_body(f'{{"error": "Invalid key {text}"}}'), lambda c: c.balance()),
        "error-403": (
            json_body(f'{{"error": "key {text} banned"}}', 403, "Forbidden"),
            lambda c: c.balance(),
        ),
        "bulk-item-error": (
            json_body(f'{{"1": {{"error": "Incorrect order ID {text}"}}, "2": "no {text}"}}'),
            lambda c: c.statuses([1, 2]),
        ),
        "unknown-outcome-answer": (json_body(f'{{"status": "ok", "echo": "{text}"}}'), add),
        "unknown-outcome-bulk-answer": (
            json_body(f'[{{"order": 1, "cancel": "{text}"}}, {{"order": 2, "x": ["{text}"]}}]'),
            lambda c: c.cancels([1, 2]),
        ),
        "html-page": (
            body(f"<html><pre>key={spelled}&action=add</pre></html>".encode(), 502, "Bad Gateway"),
            add,
        ),
        "truncated-json": (json_body(f'{{"key": "{text}", "bal'), lambda c: c.balance()),
        "reason-phrase": (json_body("{}", 500, f"Error {spelled}"), lambda c: c.balance()),
        "redirect": (
            body(b"", 302, "Found", Location=f"https://elsewhere.test/?key={spelled}"),
            lambda c: c.balance(),
        ),
        "header": (json_body('{"balance": "1", "currency": "USD"}', X_Echo=spelled), lambda c: c.balance()),
    }


def _errors_of(result: Any) -> list[BaseException]:
    if isinstance(result, BaseException):
        return [result]
    if isinstance(result, dict):
        return [value for value in result.values() if isinstance(value, BaseException)]
    return []


async def _outcome(call: Any, client: smmapi.AsyncClient) -> Any:
    try:
        return await call(client)
    except smmapi.SmmError as error:
        return error


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # what is masked does not depend on the loop
@pytest.mark.parametrize("key", KEYS)
async def test_the_key_echoed_in_any_spelling_anywhere_is_never_readable(key, caplog):
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    async with httpx.AsyncClient() as http:  # one for all: an SSL context takes a while to make
        for spelling, spelled in spellings(key).items():
            for place, (respond, call) in _answers(spelled).items():
                async with (
                    serve(respond) as url,
                    smmapi.AsyncClient(url, key, max_retries=0, http_client=http) as client,
                ):
                    with anyio.fail_after(10):
                        result = await _outcome(call, client)
                if place != "header":
                    assert _errors_of(result), (spelling, place, result)
                errors += _errors_of(result)

    shown = [*(text for error in errors for text in renderings(error)), caplog.text]
    shown += [repr(vars(record)) for record in caplog.records]
    assert [leak for leak in leaks(key) for text in shown if leak in text] == []


@pytest.mark.anyio
async def test_a_write_cut_off_while_sending_a_big_body_shows_no_key_in_any_frame():
    key = "FakeKey+With/Slash=Pad&Amp0123"

    # The server reads nothing: a body of 4 MiB fills the socket's buffers, and the send waits
    # until the write timeout, deep in httpcore and anyio with the body in their frames.
    async with (
        serve(_answers_balance, stall=True) as url,
        smmapi.AsyncClient(url, key, timeout=0.2, max_retries=0) as client,
    ):
        with anyio.fail_after(20):
            error = await _outcome(
                lambda c: c.add(service=1, link="https://example.com/p/1", comments=["x" * 1024] * 4096),
                client,
            )

    assert isinstance(error, smmapi.OutcomeUnknownError)
    assert isinstance(error.__cause__, TimeoutError)
    assert [leak for leak in leaks(key) for text in renderings(error) if leak in text] == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("key", "answer", "call", "expected"),
    [
        pytest.param("100", '{"order": 100}', "add", 100, id="key-100-is-also-the-order-id"),
        pytest.param(
            "demo",
            '[{"service": 1, "name": "demo", "rate": "1", "min": "1", "max": "9"}]',
            "services",
            "demo",
            id="key-demo-is-also-a-service-name",
        ),
    ],
)
async def test_answers_are_read_as_they_came_whatever_the_key(key, answer, call, expected):
    async with serve(json_body(answer)) as url, smmapi.AsyncClient(url, key) as client:
        with anyio.fail_after(10):
            if call == "add":
                got: Any = await client.add(service=1, link="https://example.com/p/1", quantity=100)
            else:
                got = (await client.services())[0].name

    assert got == expected


# -- the environment ---------------------------------------------------------------------------


@pytest.fixture(name="proxy_env")
def _proxy_env(monkeypatch: pytest.MonkeyPatch) -> Any:
    def set_proxy(url: str) -> None:
        proxy = url.removesuffix("/api/v2")
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.setenv(name, proxy)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)

    return set_proxy


def _answers_balance(_: bytes) -> Iterator[bytes]:
    data = b'{"balance": "1", "currency": "USD"}'
    yield head(Content_Type="application/json", Content_Length=str(len(data))) + data


@pytest.mark.anyio
async def test_environment_proxies_are_ignored_by_default(proxy_env):
    proxied: list[bytes] = []
    async with serve(_answers_balance, proxied) as proxy, serve(_answers_balance) as panel:
        proxy_env(proxy)
        async with smmapi.AsyncClient(panel, "fake-key-0123") as client:
            with anyio.fail_after(10):
                await client.balance()

    assert proxied == []


@pytest.mark.anyio
async def test_trust_env_sends_through_the_environment_proxy(proxy_env):
    proxied: list[bytes] = []
    async with serve(_answers_balance, proxied) as proxy, serve(_answers_balance) as panel:
        proxy_env(proxy)
        async with smmapi.AsyncClient(panel, "fake-key-0123", trust_env=True) as client:
            with anyio.fail_after(10):
                await client.balance()

    assert len(proxied) == 1


@pytest.mark.anyio
async def test_a_proxy_refusing_the_tunnel_is_a_connect_error_for_a_write(proxy_env):
    refused: list[bytes] = []
    async with serve(body(b"", 403, "Forbidden"), refused) as proxy:
        proxy_env(proxy)
        async with smmapi.AsyncClient(
            "https://panel.test/api/v2", "fake-key-0123", trust_env=True, max_retries=0
        ) as client:
            with anyio.fail_after(10), pytest.raises(smmapi.ConnectError):
                await client.add(service=1, link="https://example.com/p/1", quantity=100)

    assert refused[0].startswith(b"CONNECT panel.test:443")
    assert all(b"fake-key" not in request for request in refused)


# -- what callers pass -------------------------------------------------------------------------

LINK = "https://example.com/p/1"


@pytest.fixture(name="recorded")
def _recorded() -> list[bytes]:
    return []


def _answers_order(_: bytes) -> Iterator[bytes]:
    data = b'{"order": 7}'
    yield head(Content_Type="application/json", Content_Length=str(len(data))) + data


@pytest.mark.anyio
@pytest.mark.parametrize(
    "name",
    [
        " quantity",
        "  key",
        " service",
        "quantity[]",
        "quantity[x]",
        " runs[]",
        "min[0]",
        "QUANTITY",
        "Link",
        "ACTION",
        "answer number",
        "old.posts",
        "key\0x",
        "country\x01",
    ],
)
async def test_an_extra_field_a_php_panel_reads_as_a_field_the_client_sets_is_refused(name, recorded):
    async with serve(_answers_order, recorded) as url, smmapi.AsyncClient(url, "fake-key-0123") as client:
        with anyio.fail_after(10), pytest.raises(smmapi.ValidationError):
            await client.add(service=1, link=LINK, quantity=10, extra_fields={name: "5"})

    assert recorded == []


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["country", "speed", "quantity_max", "key2", "service.type"])
async def test_an_extra_field_of_the_panels_own_is_sent(name, recorded):
    async with serve(_answers_order, recorded) as url, smmapi.AsyncClient(url, "fake-key-0123") as client:
        with anyio.fail_after(10):
            await client.add(service=1, link=LINK, quantity=10, extra_fields={name: "US"})

    assert f"{quote(name, safe='')}=US".encode() in recorded[0].replace(b"+", b"%20")


class OddInt(int):
    def __str__(self) -> str:
        return "5,6,7"

    __repr__ = __format__ = lambda self, *_: "5,6,7"


class OddStr(str):
    __slots__ = ()

    def __str__(self) -> str:
        return "https://elsewhere.test/"


@pytest.mark.anyio
async def test_ids_and_values_go_on_the_wire_by_value(recorded):
    async with serve(_answers_order, recorded) as url, smmapi.AsyncClient(url, "fake-key-0123") as client:
        with anyio.fail_after(10):
            await client.add(
                service=OddInt(1), link=OddStr(LINK), quantity=OddInt(10), extra_fields={"n": OddInt(5)}
            )

    sent = recorded[0].partition(b"\r\n\r\n")[2]
    assert b"service=1&" in sent
    assert b"quantity=10&" in sent
    assert sent.endswith(b"&n=5")
    assert quote(LINK, safe="").encode() in sent


@pytest.mark.anyio
async def test_a_bulk_id_goes_by_value_not_by_its_str(recorded):
    answer = json_body('{"5": {"status": "Completed", "charge": "1"}}')
    async with serve(answer, recorded) as url, smmapi.AsyncClient(url, "fake-key-0123") as client:
        with anyio.fail_after(10):
            await client.status(OddInt(5))

    assert recorded[0].endswith(b"&order=5")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("bad", "kind"),
    [
        pytest.param(10**5000, smmapi.ValidationError, id="5000-digits"),
        pytest.param(-(10**5000), smmapi.ValidationError, id="minus-5000-digits"),
        pytest.param(True, TypeError, id="bool"),
        pytest.param(1.0, TypeError, id="float"),
        pytest.param("1", TypeError, id="str"),
    ],
)
async def test_one_callers_bad_id_fails_that_caller_only_before_anything_is_queued(bad, kind, recorded):
    answer = json_body('{"status": "Completed", "charge": "1"}')
    results: dict[str, Any] = {}

    async def ask(name: str, order: Any) -> None:
        try:
            results[name] = await client.status(order)
        except (smmapi.SmmError, TypeError) as error:
            results[name] = error

    async with serve(answer, recorded) as url, smmapi.AsyncClient(url, "fake-key-0123") as client:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(ask, "good", 1)
                group.start_soon(ask, "bad", bad)

    assert isinstance(results["good"], smmapi.OrderStatus)
    assert type(results["bad"]) is kind
    assert len(recorded) == 1
    assert recorded[0].endswith(b"&order=1")


# -- the command -------------------------------------------------------------------------------


def _command(args: list[str], answer: str, key: str) -> Any:
    from click.testing import CliRunner  # noqa: PLC0415  (the command is an extra)
    from smmapi.cli._app import Seams, cli  # noqa: PLC0415

    transport = httpx.MockTransport(lambda _: httpx.Response(200, content=answer.encode()))
    environment = {"SMMAPI_URL": "https://panel.test/api/v2", "SMMAPI_KEY": key, "COLUMNS": "200"}
    seams = Seams(transport=transport, client_options={"retry_backoff": 0, "max_retries": 0})
    return CliRunner().invoke(cli, args, obj=seams, env=environment, prog_name="smmapi")


@pytest.mark.parametrize("text", HOSTILE_JSON)
def test_the_command_prints_each_ids_error_as_json_for_a_hostile_answer(text):
    result = _command(["status", "1", "2", "--json"], text, "fake-key-0123")

    assert "Traceback" not in result.output
    assert set(json.loads(result.stdout)) == {"1", "2"}


@pytest.mark.parametrize("key", KEYS)
def test_the_command_never_prints_the_key_echoed_in_any_spelling(key):
    outputs = []
    for spelled in spellings(key).values():  # each also a JSON string's content
        for args in (
            ["balance"],
            ["status", "1", "2", "--json"],
            ["add", "--service", "1", "--link", "x", "--quantity", "9"],
        ):
            result = _command(args, f'{{"error": "Incorrect order ID {spelled}", "1": "no {spelled}"}}', key)
            outputs.append(result.output)

    assert [leak for leak in leaks(key) for output in outputs if leak in output] == []
