"""The API key travels in the POST body only: never in a URL, a repr, an exception, a traceback or a log."""

import logging
import pickle
import traceback
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import smmapi

from conftest import KEY, URL, Panel

LINK = "https://example.com/p/1"
PRODUCT_STATUS = {"charge": 1, "status": "Completed"}
STATUS = {
    "charge": "0.27819",
    "start_count": "3572",
    "status": "Partial",
    "remains": "157",
    "currency": "USD",
}


def _single_or_bulk(field: str, single: Any, bulk: Callable[[list[str]], Any]) -> Callable[[dict], Any]:
    def answer(form: dict[str, str]) -> Any:
        if field in form:
            return single
        return bulk(form[field + "s"].split(","))

    return answer


ANSWERS: dict[str, Any] = {
    "balance": {"balance": "68.6868", "currency": "USD"},
    "services": [{"service": 1, "name": "Views", "rate": "2.5", "min": "10", "max": "1000"}],
    "products": [{"product": 1, "name": "Netflix", "rate": 2.5, "min": 1, "max": 10}],
    "add": {"order": 99999},
    "add_product_order": {"order": 99998},
    "status": _single_or_bulk("order", STATUS, lambda ids: dict.fromkeys(ids, STATUS)),
    "product_order_status": _single_or_bulk(
        "order", PRODUCT_STATUS, lambda ids: dict.fromkeys(ids, PRODUCT_STATUS)
    ),
    "refill": _single_or_bulk(
        "order", {"refill": 1}, lambda ids: [{"order": key, "refill": 1} for key in ids]
    ),
    "refill_status": _single_or_bulk(
        "refill", {"status": "Completed"}, lambda ids: [{"refill": key, "status": "Completed"} for key in ids]
    ),
    "cancel": _single_or_bulk(
        "order", {"cancel": 1}, lambda ids: [{"order": key, "cancel": 1} for key in ids]
    ),
}


async def every_method(client: smmapi.AsyncClient) -> None:
    await client.balance()
    await client.services()
    await client.products()
    await client.add(service=1, link=LINK, quantity=100)
    await client.add_product_order(product=1, quantity=1, require="me@example.com")
    await client.status(1)
    await client.statuses([1, 2])
    await client.refill(1)
    await client.refills([1, 2])
    await client.refill_status(1)
    await client.refill_statuses([1, 2])
    await client.cancel(1)
    await client.cancels([1, 2])
    await client.product_order_status(1)
    await client.product_order_statuses([1, 2])


@pytest.fixture(name="seen")
def _seen(panel: Panel) -> list[httpx.Request]:
    panel.answers.update(ANSWERS)
    return []


@pytest.fixture(name="recording")
def _recording(panel: Panel, seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return panel(request)

    return httpx.MockTransport(handler)


@pytest.mark.asyncio
async def test_key_is_never_in_a_url(make_client, recording, seen):
    async with make_client(transport=recording) as client:
        await every_method(client)

    assert len(seen) >= 15
    assert all(KEY not in str(request.url) for request in seen)


@pytest.mark.asyncio
async def test_key_is_never_in_a_header(make_client, recording, seen):
    async with make_client(transport=recording) as client:
        await every_method(client)

    assert all(KEY not in value for request in seen for value in request.headers.values())


@pytest.mark.asyncio
async def test_key_is_in_every_post_body(make_client, recording, seen):
    async with make_client(transport=recording) as client:
        await every_method(client)

    assert all(request.method == "POST" for request in seen)
    assert all(f"key={KEY}" in request.content.decode() for request in seen)


@pytest.mark.asyncio
async def test_key_is_never_in_a_debug_log_of_a_session(make_client, recording, caplog):
    caplog.set_level(logging.DEBUG)

    async with make_client(transport=recording) as client:
        await every_method(client)

    assert_no_key_in_logs(caplog.records)


@pytest.mark.asyncio
async def test_key_is_never_in_the_repr(make_client):
    client = make_client()
    texts = [repr(client), str(client)]
    async with client:
        texts.append(repr(client))
    texts.append(repr(client))

    assert all(KEY not in text for text in texts)


# -- every error path ------------------------------------------------------------------------------


def _raise_connect_error(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def _raise_read_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("read timed out", request=request)


def _raise_read_error(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadError("connection reset by peer", request=request)


def _raise_protocol_error(request: httpx.Request) -> httpx.Response:
    raise httpx.RemoteProtocolError("server disconnected without sending a response", request=request)


def _json(status: int, body: Any) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _: httpx.Response(status, json=body)


def _text(status: int, body: str, **headers: str) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _: httpx.Response(status, text=body, headers=headers)


def _reason(status: int, reason: str) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _: httpx.Response(status, json={}, extensions={"reason_phrase": reason.encode()})


def _html_echo(status: int) -> Callable[[httpx.Request], httpx.Response]:
    body = f"<html><body><h1>Error {status}</h1><pre>key={ECHO}&action=balance</pre></body></html>"
    return lambda _: httpx.Response(status, text=body, headers={"Content-Type": "text/html"})


Call = Callable[[smmapi.AsyncClient], Awaitable[Any]]

#: Stands for the key's echo in the answers below; each test puts in each way a panel spells it.
ECHO = "ECHO-OF-THE-KEY"
#: Obviously fake keys: the one of every other test, and one with the characters that JSON, URLs
#: and PHP escape each their own way.
KEYS = [KEY, "FakeKey+With/Slash=Pad&Amp0123"]


def spellings(key: str) -> dict[str, str]:
    """Every way a panel may echo the key, as it stands in the answer's bytes."""
    return {
        "raw": key,
        "json-escaped": "".join(f"\\u{ord(char):04x}" for char in key),
        "php-slashes": key.replace("/", "\\/"),
        "url-encoded": quote(key, safe=""),
        "upper-case": key.upper(),
    }


def leaks(key: str) -> list[str]:
    """What no reader may find: the key as it is, in another case, or URL-encoded."""
    return [key, key.lower(), key.upper(), quote(key, safe="")]


def echoing(answer: Callable[[httpx.Request], httpx.Response], spelled: str) -> httpx.MockTransport:
    """The answers of ``answer`` with :data:`ECHO` replaced by ``spelled`` in the body, headers and reason."""

    def spell(raw: bytes) -> bytes:
        return raw.replace(ECHO.encode(), spelled.encode())

    def handler(request: httpx.Request) -> httpx.Response:
        response = answer(request)
        reason = response.extensions.get("reason_phrase", b"")
        return httpx.Response(
            response.status_code,
            headers=[(name, spell(value)) for name, value in response.headers.raw],
            content=spell(response.content),
            extensions={"reason_phrase": spell(reason)} if reason else {},
        )

    return httpx.MockTransport(handler)


@dataclass(frozen=True)
class ErrorPath:
    answer: Callable[[httpx.Request], httpx.Response]
    call: Call
    kind: type[smmapi.SmmError]


def _balance(client: smmapi.AsyncClient) -> Awaitable[Any]:
    return client.balance()


def _add(client: smmapi.AsyncClient) -> Awaitable[Any]:
    return client.add(service=1, link=LINK, quantity=100, extra_fields={"country": "US"})


def _add_product_order(client: smmapi.AsyncClient) -> Awaitable[Any]:
    return client.add_product_order(product=1, quantity=1, require="me@example.com")


async def _first_of_statuses(client: smmapi.AsyncClient) -> Any:
    return (await client.statuses([1]))[1]


async def _first_of_refills(client: smmapi.AsyncClient) -> Any:
    return (await client.refills([1, 2]))[1]


async def _first_of_cancels(client: smmapi.AsyncClient) -> Any:
    return (await client.cancels([1, 2]))[1]


async def _second_of_cancels(client: smmapi.AsyncClient) -> Any:
    return (await client.cancels([1, 2]))[2]


def _refill(client: smmapi.AsyncClient) -> Awaitable[Any]:
    return client.refill(1)


def _cancel(client: smmapi.AsyncClient) -> Awaitable[Any]:
    return client.cancel(1)


def _status(client: smmapi.AsyncClient) -> Awaitable[Any]:
    return client.status(1)


PATHS = [
    pytest.param(
        ErrorPath(_json(200, {"error": "Invalid API key"}), _balance, smmapi.AuthenticationError),
        id="invalid-key",
    ),
    pytest.param(
        ErrorPath(_json(200, {"error": f"Invalid API key {ECHO}"}), _balance, smmapi.AuthenticationError),
        id="echo-in-error",
    ),
    pytest.param(
        ErrorPath(_json(200, {"Error": f"Invalid API key: {ECHO}"}), _balance, smmapi.AuthenticationError),
        id="echo-in-Error",
    ),
    pytest.param(
        ErrorPath(_json(200, {"status": "error", "message": f"bad key {ECHO}"}), _balance, smmapi.PanelError),
        id="echo-in-status-error-message",
    ),
    pytest.param(
        ErrorPath(_json(403, {"error": f"key {ECHO} is banned"}), _balance, smmapi.PanelError),
        id="echo-in-403-error",
    ),
    pytest.param(
        ErrorPath(
            _text(429, f"slow down, {ECHO}", **{"Retry-After": "1"}), _balance, smmapi.RateLimitedError
        ),
        id="echo-in-429",
    ),
    pytest.param(
        ErrorPath(
            _json(200, {"error": f"Spam protection for {ECHO}, wait 5 seconds"}),
            _balance,
            smmapi.RateLimitedError,
        ),
        id="echo-in-rate-limit-body",
    ),
    pytest.param(ErrorPath(_html_echo(500), _balance, smmapi.HTTPStatusError), id="echo-in-500-html"),
    pytest.param(ErrorPath(_html_echo(502), _balance, smmapi.HTTPStatusError), id="echo-in-502-html"),
    pytest.param(ErrorPath(_html_echo(404), _balance, smmapi.HTTPStatusError), id="echo-in-404-html"),
    pytest.param(ErrorPath(_html_echo(200), _balance, smmapi.UnreadableAnswerError), id="echo-in-200-html"),
    pytest.param(
        ErrorPath(_text(200, f'{{"key": "{ECHO}", "bal'), _balance, smmapi.UnreadableAnswerError),
        id="echo-in-truncated-json",
    ),
    pytest.param(
        ErrorPath(_json(200, {"balance": None, "key": ECHO}), _balance, smmapi.UnreadableAnswerError),
        id="echo-in-wrong-shape",
    ),
    pytest.param(
        ErrorPath(
            _json(200, {"1": {"error": f"Incorrect order ID {ECHO}"}}),
            _first_of_statuses,
            smmapi.UnknownIdError,
        ),
        id="echo-in-bulk-item-error",
    ),
    pytest.param(
        ErrorPath(_json(200, {"1": f"Incorrect order ID {ECHO}"}), _first_of_statuses, smmapi.UnknownIdError),
        id="echo-in-bulk-bare-error",
    ),
    pytest.param(
        ErrorPath(_json(200, {"error": f"Incorrect order ID {ECHO}"}), _status, smmapi.UnknownIdError),
        id="echo-in-single-lookup-error",
    ),
    pytest.param(
        ErrorPath(
            _json(200, [{"order": 1, "cancel": {"error": f"Cannot cancel {ECHO}"}}]),
            _cancel,
            smmapi.PanelError,
        ),
        id="echo-in-cancel-refusal",
    ),
    pytest.param(
        ErrorPath(_json(200, {"status": "success", "key": ECHO}), _add, smmapi.OutcomeUnknownError),
        id="echo-in-add-answer",
    ),
    pytest.param(
        ErrorPath(_json(200, {"order": ECHO}), _add_product_order, smmapi.OutcomeUnknownError),
        id="echo-as-product-order-id",
    ),
    pytest.param(ErrorPath(_html_echo(200), _add, smmapi.OutcomeUnknownError), id="echo-in-add-html"),
    pytest.param(ErrorPath(_html_echo(503), _refill, smmapi.OutcomeUnknownError), id="echo-in-refill-503"),
    pytest.param(
        ErrorPath(_html_echo(200), _first_of_refills, smmapi.OutcomeUnknownError),
        id="echo-in-bulk-refill-html",
    ),
    pytest.param(
        ErrorPath(_json(200, {"key": ECHO}), _first_of_cancels, smmapi.OutcomeUnknownError),
        id="echo-in-bulk-cancel-lone-object",
    ),
    pytest.param(ErrorPath(_raise_read_timeout, _add, smmapi.OutcomeUnknownError), id="add-read-timeout"),
    pytest.param(ErrorPath(_raise_read_error, _cancel, smmapi.OutcomeUnknownError), id="cancel-read-error"),
    pytest.param(ErrorPath(_raise_connect_error, _balance, smmapi.ConnectError), id="connect-error"),
    pytest.param(ErrorPath(_raise_connect_error, _add, smmapi.ConnectError), id="add-connect-error"),
    pytest.param(ErrorPath(_raise_read_timeout, _balance, smmapi.RequestTimeoutError), id="read-timeout"),
    pytest.param(ErrorPath(_raise_read_error, _balance, smmapi.TransportError), id="read-error"),
    pytest.param(ErrorPath(_raise_protocol_error, _balance, smmapi.TransportError), id="protocol-error"),
    pytest.param(
        ErrorPath(_text(302, "", Location="https://elsewhere.test/api/v2"), _balance, smmapi.RedirectError),
        id="redirect",
    ),
    pytest.param(
        ErrorPath(_reason(500, f"Error {ECHO}"), _balance, smmapi.HTTPStatusError), id="echo-in-reason"
    ),
    pytest.param(
        ErrorPath(_reason(502, f"Bad {ECHO}"), _add, smmapi.OutcomeUnknownError), id="echo-in-add-reason"
    ),
    pytest.param(
        ErrorPath(
            _json(200, [{"order": 1, "cancel": 1}, {"order": 2, "cancel": [ECHO]}]),
            _second_of_cancels,
            smmapi.OutcomeUnknownError,
        ),
        id="echo-in-bulk-cancel-item",
    ),
    pytest.param(
        ErrorPath(
            _text(302, "", Location=f"https://elsewhere.test/login?key={ECHO}"),
            _balance,
            smmapi.RedirectError,
        ),
        id="echo-in-redirect-location",
    ),
    pytest.param(
        ErrorPath(
            _text(307, f"moved, {ECHO}", Location="https://elsewhere.test/api/v2"),
            _balance,
            smmapi.RedirectError,
        ),
        id="echo-in-redirect-body",
    ),
]


async def error_of(call: Callable[[], Awaitable[Any]]) -> smmapi.SmmError:
    """The error a call raised, or the error value a bulk call gave for the ID asked."""
    try:
        value = await call()
    except smmapi.SmmError as error:
        return error
    assert isinstance(value, smmapi.SmmError), value
    return value


def chain(error: BaseException) -> Iterator[BaseException]:
    """The error and every exception in its ``__cause__`` / ``__context__`` chain."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__]


def texts_of(error: BaseException) -> list[str]:
    """Everything an exception shows: its str, repr, args and attributes."""
    texts = [str(error), repr(error), *map(repr, error.args)]
    texts += [f"{name}={value!r}" for name, value in vars(error).items()]
    return texts


def assert_no_key_in_logs(records: list[logging.LogRecord]) -> None:
    for record in records:
        assert KEY not in record.getMessage(), record.getMessage()
        for name, value in vars(record).items():
            assert KEY not in repr(value), (name, record.getMessage())


def renderings(error: BaseException) -> list[str]:
    """Everything that shows an error, along its chain: texts, attributes, pickles, traceback with locals."""
    texts = ["".join(traceback.TracebackException.from_exception(error, capture_locals=True).format())]
    for link in chain(error):
        texts += texts_of(link)
        texts.append(pickle.dumps(link).decode("latin-1"))
    return texts


async def raise_on(path: ErrorPath, key: str = KEY, spelled: str = KEY) -> smmapi.SmmError:
    transport = echoing(path.answer, spelled)
    async with smmapi.AsyncClient(
        URL, key, transport=transport, max_retries=1, retry_backoff=0, batch_window=0
    ) as client:
        return await error_of(lambda: path.call(client))


@pytest.mark.asyncio
@pytest.mark.parametrize("path", PATHS)
async def test_error_path_raises_the_expected_kind(path):
    error = await raise_on(path)

    assert isinstance(error, path.kind)


@pytest.mark.asyncio
@pytest.mark.parametrize("path", PATHS)
async def test_key_echoed_in_any_spelling_is_in_no_rendering_of_the_error_nor_in_any_log(path, caplog):
    caplog.set_level(logging.DEBUG)
    found = []
    for key in KEYS:
        for spelling, spelled in spellings(key).items():
            caplog.clear()
            error = await raise_on(path, key, spelled)
            shown = [*renderings(error), caplog.text, *(repr(vars(record)) for record in caplog.records)]
            found += [(key, spelling, leak) for leak in leaks(key) for text in shown if leak in text]

    assert found == []


@pytest.mark.asyncio
async def test_echoed_key_is_masked_in_the_panel_text(make_client):
    answer = _json(200, {"error": f"Invalid API key {KEY}"})
    async with make_client(transport=httpx.MockTransport(answer)) as client:
        error = await error_of(client.balance)

    assert isinstance(error, smmapi.AuthenticationError)
    assert str(error).startswith("Invalid API key ")
    assert KEY not in str(error)


@pytest.mark.asyncio
async def test_outcome_unknown_fields_never_hold_the_key(make_client):
    async with make_client(transport=httpx.MockTransport(_raise_read_timeout)) as client:
        error = await error_of(lambda: _add(client))

    assert isinstance(error, smmapi.OutcomeUnknownError)
    assert dict(error.fields) == {"service": "1", "link": LINK, "quantity": "100", "country": "US"}


@pytest.mark.asyncio
async def test_key_is_never_in_a_closed_client_error(make_client):
    client = make_client()
    await client.aclose()

    error = await error_of(client.balance)

    assert isinstance(error, smmapi.ClientClosedError)
    assert [text for text in texts_of(error) if KEY in text] == []
    rendered = "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format())
    assert KEY not in rendered


@pytest.mark.anyio
async def test_a_closed_clients_key_leaves_the_log_filter(caplog):
    caplog.set_level(logging.WARNING, logger="smmapi")
    balance = httpx.MockTransport(lambda _: httpx.Response(200, json={"balance": "1", "currency": "USD"}))
    toy = smmapi.AsyncClient(URL, "100", transport=balance)  # a toy key, inside every ID from 10001
    async with toy:
        await toy.balance()
        logging.getLogger("smmapi").warning("order 10001 placed")
    logging.getLogger("smmapi").warning("order 10001 placed")
    assert [record.getMessage() for record in caplog.records] == [
        "order [key]01 placed",  # masked while the client is open: a key is masked in any log line
        "order 10001 placed",  # closed (though still referenced): its key garbles no one's lines
    ]
