"""Named defaults, in one place."""

from __future__ import annotations

from typing import Final

#: Seconds a whole request may take (connect, write, wait, read) before it is abandoned.
DEFAULT_TIMEOUT: Final = 30.0
#: Seconds to wait for a connection; a connect failure is the one fault that is safe to retry for writes.
DEFAULT_CONNECT_TIMEOUT: Final = 10.0
#: Retries of a read (never of a write that may have been sent) after the first attempt.
DEFAULT_MAX_RETRIES: Final = 2
#: Seconds the first lookup of a batch waits for others to join it. 0: no clock delay; the batch
#: goes as soon as it has been open for one turn of the event loop and a request slot is free
#: (it keeps filling while it waits for one), as DataLoader batches what arrives within one tick.
DEFAULT_BATCH_WINDOW: Final = 0.0
#: The most IDs one bulk request may carry: the API's own limit.
MAX_BATCH_SIZE: Final = 100
#: Requests one client keeps in flight at once.
DEFAULT_MAX_CONCURRENCY: Final = 10
#: Exponential backoff between retries starts here (seconds) ...
DEFAULT_RETRY_BASE_DELAY: Final = 0.5
#: ... and never waits longer than this, whatever the panel asks.
MAX_RETRY_DELAY: Final = 30.0
#: Seconds between two looks at an order a watch follows, after a change ...
DEFAULT_WATCH_INTERVAL: Final = 10.0
#: ... growing twice as long each time nothing changed, up to this.
DEFAULT_WATCH_MAX_INTERVAL: Final = 300.0
#: The most bytes an answer may have, counted after decompression: past it the answer is unreadable.
DEFAULT_MAX_ANSWER_BYTES: Final = 32 * 1024 * 1024
#: Answers longer than this are parsed and read in a worker thread, so the event loop keeps running.
THREAD_ANSWER_BYTES: Final = 64 * 1024
#: Seconds a tracker holds the orders it took for a round (and a write it is sending, in a shared
#: store) before another worker may take them over.
DEFAULT_TRACKING_LEASE: Final = 300.0
