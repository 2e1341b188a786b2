"""The error tree, the panel-text table, wire faults end to end, and the retry policy."""

import datetime
import email.utils
from collections.abc import Callable

import httpx
import pytest
import smmapi
from smmapi._errors import panel_error

from conftest import URL

# -- the tree ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", [pytest.param(name, id=name) for name in smmapi.__all__ if name.endswith("Error")]
)
def test_every_error_is_an_smm_error(name):
    assert issubclass(getattr(smmapi, name), smmapi.SmmError)


@pytest.mark.parametrize(
    ("error", "base"),
    [
        pytest.param(smmapi.SmmError, Exception, id="SmmError-Exception"),
        pytest.param(smmapi.ValidationError, ValueError, id="ValidationError-ValueError"),
        pytest.param(smmapi.ClientClosedError, RuntimeError, id="ClientClosedError-RuntimeError"),
        pytest.param(smmapi.RequestTimeoutError, TimeoutError, id="RequestTimeoutError-TimeoutError"),
        pytest.param(smmapi.RequestTimeoutError, smmapi.TransportError, id="RequestTimeoutError-Transport"),
        pytest.param(smmapi.ConnectError, smmapi.TransportError, id="ConnectError-TransportError"),
        pytest.param(smmapi.AuthenticationError, smmapi.PanelError, id="AuthenticationError-PanelError"),
        pytest.param(smmapi.InsufficientFundsError, smmapi.PanelError, id="InsufficientFunds-PanelError"),
        pytest.param(smmapi.UnknownIdError, smmapi.PanelError, id="UnknownIdError-PanelError"),
        pytest.param(smmapi.RateLimitedError, smmapi.PanelError, id="RateLimitedError-PanelError"),
        pytest.param(smmapi.RedirectError, smmapi.HTTPStatusError, id="RedirectError-HTTPStatusError"),
        pytest.param(smmapi.WatchTimeoutError, TimeoutError, id="WatchTimeoutError-TimeoutError"),
    ],
)
def test_error_tree(error, base):
    assert issubclass(error, base)


@pytest.mark.parametrize(
    ("error", "not_base"),
    [
        pytest.param(smmapi.ConnectError, TimeoutError, id="ConnectError-not-TimeoutError"),
        pytest.param(smmapi.OutcomeUnknownError, smmapi.TransportError, id="OutcomeUnknown-not-Transport"),
        pytest.param(smmapi.UnreadableAnswerError, smmapi.PanelError, id="Unreadable-not-PanelError"),
        pytest.param(smmapi.HTTPStatusError, smmapi.PanelError, id="HTTPStatus-not-PanelError"),
        pytest.param(smmapi.PanelError, ValueError, id="PanelError-not-ValueError"),
    ],
)
def test_error_tree_keeps_kinds_apart(error, not_base):
    assert not issubclass(error, not_base)


# -- the text table ------------------------------------------------------------------------------

TEXTS = [
    pytest.param("Invalid API key", smmapi.AuthenticationError, id="invalid-api-key"),
    pytest.param("Incorrect API key", smmapi.AuthenticationError, id="incorrect-api-key"),
    pytest.param("Invalid api key", smmapi.AuthenticationError, id="invalid-api-key-lower"),
    pytest.param("Not enough funds on balance", smmapi.InsufficientFundsError, id="not-enough-funds"),
    pytest.param("Insufficient balance", smmapi.InsufficientFundsError, id="insufficient-balance"),
    pytest.param(
        "neworder.error.not_enough_funds", smmapi.InsufficientFundsError, id="code-neworder-not-enough-funds"
    ),
    pytest.param("error.not_enough_funds", smmapi.InsufficientFundsError, id="code-not-enough-funds"),
    pytest.param("Incorrect order ID", smmapi.UnknownIdError, id="incorrect-order-id"),
    pytest.param("Invalid Order Id", smmapi.UnknownIdError, id="invalid-order-id"),
    pytest.param("Incorrect refill ID", smmapi.UnknownIdError, id="incorrect-refill-id"),
    pytest.param("Refill not found", smmapi.UnknownIdError, id="refill-not-found"),
    pytest.param("error.incorrect_order_id", smmapi.UnknownIdError, id="code-incorrect-order-id"),
    pytest.param("Rate limit exceeded. Slow down.", smmapi.RateLimitedError, id="rate-limit-exceeded"),
    pytest.param("Spam protection, wait 5 seconds", smmapi.RateLimitedError, id="spam-protection"),
    pytest.param("Недостаточно средств", smmapi.PanelError, id="russian-funds-unmatched"),
    pytest.param("Incorrect service ID", smmapi.PanelError, id="incorrect-service-id"),
    pytest.param("Your account has been suspended.", smmapi.PanelError, id="account-suspended"),
    pytest.param("Link is invalid", smmapi.PanelError, id="link-invalid"),
]


@pytest.mark.parametrize(("text", "kind"), TEXTS)
def test_panel_error_sorts_the_text(text, kind):
    error = panel_error(text)

    assert type(error) is kind


@pytest.mark.parametrize(("text", "kind"), TEXTS)
def test_panel_error_keeps_the_text(text, kind):
    error = panel_error(text, status_code=400)

    assert str(error) == text
    assert error.status_code == 400


def test_panel_error_reads_the_wait_from_the_text():
    error = panel_error("Spam protection, wait 5 seconds")

    assert isinstance(error, smmapi.RateLimitedError)
    assert error.retry_after == 5.0


def test_panel_error_rate_limit_without_a_wait():
    error = panel_error("Rate limit exceeded. Slow down.")

    assert isinstance(error, smmapi.RateLimitedError)
    assert error.retry_after is None


def test_panel_error_http_429_is_rate_limited_whatever_the_text():
    error = panel_error("Something went wrong", status_code=429, retry_after=7.0)

    assert isinstance(error, smmapi.RateLimitedError)
    assert error.retry_after == 7.0
    assert error.status_code == 429


def test_http_401_is_an_authentication_error_whatever_its_text():
    error = panel_error("Your account has been suspended.", status_code=401)

    assert type(error) is smmapi.AuthenticationError
    assert str(error) == "Your account has been suspended."
    assert error.status_code == 401


def _error(text: str) -> httpx.Response:
    return httpx.Response(200, json={"error": text})


SHAPES = [
    pytest.param((200, lambda text: {"error": text}), id="200-error"),
    pytest.param((200, lambda text: {"Error": text}), id="200-Error"),
    pytest.param((200, lambda text: {"status": "error", "message": text}), id="200-status-error-message"),
    pytest.param((400, lambda text: {"error": text}), id="400-error"),
    pytest.param((422, lambda text: {"error": text}), id="422-error"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("text", "kind"), TEXTS)
async def test_panel_error_end_to_end(panel, make_client, shape, text, kind):
    status_code, body = shape
    panel.answers["balance"] = httpx.Response(status_code, json=body(text))

    async with make_client(max_retries=0) as client:
        with pytest.raises(smmapi.PanelError) as caught:
            await client.balance()

    assert type(caught.value) is kind
    assert str(caught.value) == text
    assert caught.value.status_code == status_code


@pytest.mark.asyncio
async def test_suspended_account_with_http_401_end_to_end(panel, client):
    panel.answers["balance"] = httpx.Response(401, json={"error": "Your account has been suspended."})

    with pytest.raises(smmapi.AuthenticationError) as caught:
        await client.balance()

    assert str(caught.value) == "Your account has been suspended."
    assert caught.value.status_code == 401


@pytest.mark.asyncio
async def test_rate_limit_body_wait_end_to_end(panel, make_client):
    panel.answers["balance"] = _error("Spam protection, wait 5 seconds")

    async with make_client(max_retries=0) as client:
        with pytest.raises(smmapi.RateLimitedError) as caught:
            await client.balance()

    assert caught.value.retry_after == 5.0


@pytest.mark.asyncio
async def test_http_429_retry_after_seconds_end_to_end(panel, make_client):
    panel.answers["balance"] = httpx.Response(429, headers={"Retry-After": "7"}, text="Too Many Requests")

    async with make_client(max_retries=0) as client:
        with pytest.raises(smmapi.RateLimitedError) as caught:
            await client.balance()

    assert caught.value.retry_after == 7.0
    assert caught.value.status_code == 429


@pytest.mark.asyncio
async def test_http_429_retry_after_date_end_to_end(panel, make_client):
    when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=120)
    panel.answers["balance"] = httpx.Response(
        429, headers={"Retry-After": email.utils.format_datetime(when, usegmt=True)}, json={}
    )

    async with make_client(max_retries=0) as client:
        with pytest.raises(smmapi.RateLimitedError) as caught:
            await client.balance()

    assert caught.value.retry_after is not None
    assert 60 < caught.value.retry_after <= 121


@pytest.mark.asyncio
async def test_http_429_with_error_body_keeps_the_text(panel, make_client):
    panel.answers["balance"] = httpx.Response(429, json={"error": "Too many requests, slow down"})

    async with make_client(max_retries=0) as client:
        with pytest.raises(smmapi.RateLimitedError, match="Too many requests, slow down"):
            await client.balance()


# -- wire faults end to end ----------------------------------------------------------------------


class Raising:
    """A MockTransport handler that raises one httpx exception per request and counts them."""

    def __init__(self, make: Callable[[httpx.Request], Exception]) -> None:
        self.make = make
        self.count = 0
        self.raised: list[Exception] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.count += 1
        exc = self.make(request)
        self.raised.append(exc)
        raise exc


FAULTS = [
    pytest.param(
        lambda r: httpx.ConnectError("connection refused", request=r), smmapi.ConnectError, id="connect"
    ),
    pytest.param(
        lambda r: httpx.ConnectTimeout("connect timed out", request=r),
        smmapi.ConnectError,
        id="connect-timeout",
    ),
    pytest.param(
        lambda r: httpx.ReadTimeout("read timed out", request=r),
        smmapi.RequestTimeoutError,
        id="read-timeout",
    ),
    pytest.param(
        lambda r: httpx.ReadError("connection reset", request=r), smmapi.TransportError, id="read-error"
    ),
    pytest.param(
        lambda r: httpx.RemoteProtocolError("server disconnected", request=r),
        smmapi.TransportError,
        id="remote-protocol-error",
    ),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("make", "kind"), FAULTS)
async def test_transport_fault_becomes_its_smm_error(make_client, make, kind):
    handler = Raising(make)

    async with make_client(transport=httpx.MockTransport(handler), max_retries=0) as client:
        with pytest.raises(smmapi.TransportError) as caught:
            await client.balance()

    assert type(caught.value) is kind
    # The cause is a copy of httpx's error without its request, whose body holds the key.
    cause = caught.value.__cause__
    assert type(cause) is type(handler.raised[0])
    assert str(cause) == str(handler.raised[0])
    with pytest.raises(RuntimeError):
        _ = cause.request


def test_read_timeout_is_a_timeout_error():
    assert issubclass(smmapi.RequestTimeoutError, TimeoutError)


def _html(status: int, title: str) -> httpx.Response:
    body = f"<html><head><title>{title}</title></head><body>" + "x" * 2000 + "</body></html>"
    return httpx.Response(status, text=body, headers={"Content-Type": "text/html"})


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "title"),
    [
        pytest.param(500, "500 Internal Server Error", id="500"),
        pytest.param(502, "502 Bad Gateway", id="502"),
        pytest.param(503, "503 Service Unavailable", id="503"),
    ],
)
async def test_http_5xx_html_is_http_status_error(panel, make_client, status, title):
    panel.answers["balance"] = _html(status, title)

    async with make_client(max_retries=0) as client:
        with pytest.raises(smmapi.HTTPStatusError) as caught:
            await client.balance()

    assert caught.value.status_code == status
    message = str(caught.value)
    assert f"<html><head><title>{title}</title>" in message
    assert "</body></html>" not in message
    assert len(message) < 400


@pytest.mark.asyncio
async def test_http_5xx_with_error_json_is_http_status_error(panel, make_client):
    panel.answers["balance"] = httpx.Response(500, json={"error": "Internal error"})

    async with make_client(max_retries=0) as client:
        with pytest.raises(smmapi.HTTPStatusError) as caught:
            await client.balance()

    assert caught.value.status_code == 500


@pytest.mark.asyncio
async def test_http_4xx_without_an_error_is_http_status_error(panel, make_client):
    panel.answers["balance"] = _html(404, "404 Not Found")

    async with make_client(max_retries=0) as client:
        with pytest.raises(smmapi.HTTPStatusError) as caught:
            await client.balance()

    assert caught.value.status_code == 404
    assert not isinstance(caught.value, smmapi.RedirectError)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("answer", "start"),
    [
        pytest.param(_html(200, "Just a moment..."), "<html><head><title>Just a moment...", id="html"),
        pytest.param(
            httpx.Response(200, text='{"balance": "68.68'), '{"balance": "68.68', id="truncated-json"
        ),
        pytest.param(httpx.Response(200, text=""), "", id="empty-body"),
    ],
)
async def test_unreadable_answer(panel, make_client, answer, start):
    panel.answers["balance"] = answer

    async with make_client(max_retries=0) as client:
        with pytest.raises(smmapi.UnreadableAnswerError) as caught:
            await client.balance()

    assert start in str(caught.value)
    assert len(str(caught.value)) < 400


@pytest.mark.asyncio
async def test_wrong_shape_is_unreadable(panel, make_client):
    panel.answers["balance"] = ["not", "a", "balance"]

    async with make_client(max_retries=0) as client:
        with pytest.raises(smmapi.UnreadableAnswerError):
            await client.balance()


class Redirecting:
    """The panel redirects; the target records anything that reaches it."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.panel_hits = 0
        self.target_hits = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "panel.test":
            self.panel_hits += 1
            return httpx.Response(self.status, headers={"Location": "https://elsewhere.test/api/v2"})
        self.target_hits += 1
        return httpx.Response(200, json={"balance": "1", "currency": "USD"})


REDIRECTS = [
    pytest.param(301, id="301"),
    pytest.param(302, id="302"),
    pytest.param(303, id="303"),
    pytest.param(307, id="307"),
    pytest.param(308, id="308"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("status", REDIRECTS)
async def test_redirect_is_never_followed(make_client, status):
    handler = Redirecting(status)

    async with make_client(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(smmapi.RedirectError) as caught:
            await client.balance()

    assert caught.value.status_code == status
    assert caught.value.location == "https://elsewhere.test/api/v2"
    assert "https://elsewhere.test/api/v2" in str(caught.value)
    assert handler.target_hits == 0
    assert handler.panel_hits == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("status", REDIRECTS)
async def test_redirect_is_never_followed_by_an_injected_client(status):
    handler = Redirecting(status)

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler), follow_redirects=True) as http,
        smmapi.AsyncClient(URL, "k", http_client=http, retry_backoff=0) as client,
    ):
        with pytest.raises(smmapi.RedirectError):
            await client.balance()

    assert handler.target_hits == 0


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.add(service=1, link="https://example.com/p/1", quantity=100), id="add"),
        pytest.param(lambda c: c.refill(1), id="refill"),
        pytest.param(lambda c: c.cancel(1), id="cancel"),
    ],
)
async def test_redirect_of_a_write_is_never_followed(make_client, call):
    handler = Redirecting(302)

    async with make_client(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(smmapi.SmmError):
            await call(client)

    assert handler.target_hits == 0
    assert handler.panel_hits == 1


# -- writes: never repeated once they may have been sent -----------------------------------------

WRITES = [
    pytest.param(lambda c: c.add(service=1, link="https://example.com/p/1", quantity=100), "add", id="add"),
    pytest.param(lambda c: c.refill(1), "refill", id="refill"),
    pytest.param(lambda c: c.cancel(1), "cancel", id="cancel"),
    pytest.param(
        lambda c: c.add_product_order(product=1, quantity=1), "add_product_order", id="add_product_order"
    ),
]


def _read_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("read timed out", request=request)


def _read_error(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadError("connection reset", request=request)


UNCERTAIN = [
    pytest.param(_read_timeout, id="read-timeout"),
    pytest.param(_read_error, id="read-error"),
    pytest.param(lambda _: _html(500, "500 Internal Server Error"), id="500-html"),
    pytest.param(lambda _: _html(502, "502 Bad Gateway"), id="502-html"),
    pytest.param(lambda _: _html(503, "503 Service Unavailable"), id="503-html"),
    pytest.param(lambda _: _html(200, "Just a moment..."), id="200-html"),
    pytest.param(lambda _: httpx.Response(200, text='{"order": 12'), id="truncated-json"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("call", "action"), WRITES)
@pytest.mark.parametrize("answer", UNCERTAIN)
async def test_uncertain_write_is_outcome_unknown_and_sent_once(make_client, call, action, answer):
    count = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        return answer(request)

    async with make_client(transport=httpx.MockTransport(handler), max_retries=2) as client:
        with pytest.raises(smmapi.OutcomeUnknownError) as caught:
            await call(client)

    assert caught.value.action == action
    assert count == 1


@pytest.mark.asyncio
async def test_outcome_unknown_keeps_the_cause(make_client):
    handler = Raising(lambda r: httpx.ReadTimeout("read timed out", request=r))

    async with make_client(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(smmapi.OutcomeUnknownError) as caught:
            await client.add(service=1, link="https://example.com/p/1", quantity=100)

    assert isinstance(caught.value.__cause__, smmapi.RequestTimeoutError)
    assert isinstance(caught.value.__cause__.__cause__, httpx.ReadTimeout)  # redacted: no request
    assert dict(caught.value.fields) == {"service": "1", "link": "https://example.com/p/1", "quantity": "100"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("method", "action"),
    [pytest.param("refills", "refill", id="refills"), pytest.param("cancels", "cancel", id="cancels")],
)
@pytest.mark.parametrize("answer", UNCERTAIN)
async def test_uncertain_bulk_write_is_outcome_unknown_per_id(make_client, method, action, answer):
    count = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        return answer(request)

    async with make_client(transport=httpx.MockTransport(handler), max_retries=2) as client:
        result = await getattr(client, method)([1, 2])

    assert list(result) == [1, 2]
    assert all(isinstance(value, smmapi.OutcomeUnknownError) for value in result.values())
    assert all(value.action == action for value in result.values())
    assert count == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(("call", "action"), WRITES)
@pytest.mark.parametrize("max_retries", [pytest.param(0, id="no-retries"), pytest.param(2, id="2-retries")])
async def test_write_is_retried_when_nothing_was_sent(make_client, call, action, max_retries):
    handler = Raising(lambda r: httpx.ConnectError("connection refused", request=r))

    async with make_client(transport=httpx.MockTransport(handler), max_retries=max_retries) as client:
        with pytest.raises(smmapi.ConnectError):
            await call(client)

    assert handler.count == 1 + max_retries


@pytest.mark.asyncio
@pytest.mark.parametrize(("call", "action"), WRITES)
async def test_write_succeeds_after_a_connect_error(panel, make_client, call, action):
    failures = [httpx.ConnectError("connection refused")]
    answers = {
        "add": {"order": 5},
        "add_product_order": {"order": 5},
        "refill": lambda form: {"refill": 5} if "order" in form else [{"order": 1, "refill": 5}],
        "cancel": lambda form: {"cancel": 1} if "order" in form else [{"order": 1, "cancel": 1}],
    }
    panel.answers[action] = answers[action]

    def handler(request: httpx.Request) -> httpx.Response:
        if failures:
            raise failures.pop()
        return panel(request)

    async with make_client(transport=httpx.MockTransport(handler), max_retries=2) as client:
        await call(client)

    assert panel.actions() == [action]


# -- reads: retried on faults that may pass --------------------------------------------------------


def _connect_error(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


RETRYABLE = [
    pytest.param(_connect_error, smmapi.ConnectError, id="connect-error"),
    pytest.param(_read_timeout, smmapi.RequestTimeoutError, id="read-timeout"),
    pytest.param(_read_error, smmapi.TransportError, id="read-error"),
    pytest.param(lambda _: _html(500, "500"), smmapi.HTTPStatusError, id="500"),
    pytest.param(lambda _: _html(502, "502"), smmapi.HTTPStatusError, id="502"),
    pytest.param(lambda _: _html(503, "503"), smmapi.HTTPStatusError, id="503"),
    pytest.param(
        lambda _: httpx.Response(429, headers={"Retry-After": "1"}, text="slow down"),
        smmapi.RateLimitedError,
        id="429",
    ),
    pytest.param(
        lambda _: _error("Rate limit exceeded. Slow down."), smmapi.RateLimitedError, id="rate-limit-body"
    ),
    pytest.param(
        lambda _: _error("Spam protection, wait 5 seconds"), smmapi.RateLimitedError, id="spam-body"
    ),
    pytest.param(lambda _: _html(200, "Just a moment..."), smmapi.UnreadableAnswerError, id="200-html"),
]


class Counting:
    """A handler that answers every request with ``answer(request)`` and counts them."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answer = answer
        self.count = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.count += 1
        return self.answer(request)


@pytest.mark.asyncio
@pytest.mark.parametrize(("answer", "kind"), RETRYABLE)
@pytest.mark.parametrize(
    "max_retries",
    [pytest.param(0, id="no-retries"), pytest.param(1, id="1-retry"), pytest.param(2, id="2-retries")],
)
async def test_read_is_retried(make_client, answer, kind, max_retries):
    handler = Counting(answer)

    async with make_client(transport=httpx.MockTransport(handler), max_retries=max_retries) as client:
        with pytest.raises(kind):
            await client.balance()

    assert handler.count == 1 + max_retries


READS = [
    pytest.param(lambda c: c.services(), id="services"),
    pytest.param(lambda c: c.products(), id="products"),
    pytest.param(lambda c: c.status(1), id="status"),
    pytest.param(lambda c: c.refill_status(1), id="refill_status"),
    pytest.param(lambda c: c.product_order_status(1), id="product_order_status"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("call", READS)
async def test_every_read_is_retried(make_client, call):
    handler = Counting(lambda _: _html(503, "503"))

    async with make_client(transport=httpx.MockTransport(handler), max_retries=2) as client:
        with pytest.raises(smmapi.HTTPStatusError):
            await call(client)

    assert handler.count == 3


@pytest.mark.asyncio
@pytest.mark.parametrize("method", ["statuses", "refill_statuses", "product_order_statuses"])
async def test_bulk_read_is_retried(make_client, method):
    handler = Counting(lambda _: _html(503, "503"))

    async with make_client(transport=httpx.MockTransport(handler), max_retries=2) as client:
        result = await getattr(client, method)([1, 2])

    assert all(isinstance(value, smmapi.HTTPStatusError) for value in result.values())
    assert handler.count == 3


@pytest.mark.asyncio
async def test_read_succeeds_after_a_retry(panel, make_client):
    panel.answers["balance"] = {"balance": "68.6868", "currency": "USD"}
    failures = [_html(503, "503")]

    def handler(request: httpx.Request) -> httpx.Response:
        if failures:
            panel.requests.append({"action": "failed"})
            return failures.pop()
        return panel(request)

    async with make_client(transport=httpx.MockTransport(handler), max_retries=2) as client:
        balance = await client.balance()

    assert str(balance.balance) == "68.6868"
    assert panel.actions() == ["failed", "balance"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        pytest.param(lambda _: _error("Invalid API key"), smmapi.AuthenticationError, id="invalid-api-key"),
        pytest.param(
            lambda _: _error("Not enough funds on balance"), smmapi.InsufficientFundsError, id="funds"
        ),
        pytest.param(lambda _: _error("Incorrect order ID"), smmapi.UnknownIdError, id="unknown-id"),
        pytest.param(lambda _: _error("Something else"), smmapi.PanelError, id="other-panel-error"),
        pytest.param(lambda _: _html(404, "404 Not Found"), smmapi.HTTPStatusError, id="404-html"),
        pytest.param(
            lambda _: httpx.Response(401, json={"error": "Unauthorized"}), smmapi.PanelError, id="401"
        ),
        pytest.param(
            lambda _: httpx.Response(302, headers={"Location": "https://elsewhere.test/"}),
            smmapi.RedirectError,
            id="redirect",
        ),
    ],
)
async def test_read_not_retried_on_lasting_errors(make_client, answer, kind):
    handler = Counting(answer)

    async with make_client(transport=httpx.MockTransport(handler), max_retries=2) as client:
        with pytest.raises(kind):
            await client.balance()

    assert handler.count == 1


@pytest.mark.asyncio
async def test_retries_are_counted_per_call(make_client):
    handler = Counting(lambda _: _html(503, "503"))

    async with make_client(transport=httpx.MockTransport(handler), max_retries=1) as client:
        for _ in range(2):
            with pytest.raises(smmapi.HTTPStatusError):
                await client.balance()

    assert handler.count == 4
