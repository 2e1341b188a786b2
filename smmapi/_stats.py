"""What a client has done, for dashboards and for tests."""

from collections.abc import Mapping

import attrs

from ._models import mapping_repr, read_only

__all__ = ["Stats"]


@attrs.frozen
class Stats:
    """A snapshot of a client's counters since it was made.

    Example::

        stats = client.stats()
        print(f"{stats.lookups} lookups in {stats.requests} requests "
              f"({stats.ids_per_request:.1f} IDs each)")
    """

    #: IDs asked through the lookup methods, single and bulk (a repeated ID counts each time).
    lookups: int
    #: IDs sent in bulk requests (an ID asked while in flight is not sent again).
    ids_sent: int
    #: HTTP requests sent, retries included.
    requests: int
    #: HTTP requests sent, by action.
    requests_by_action: Mapping[str, int] = attrs.field(converter=read_only, repr=mapping_repr)
    #: Bulk requests sent by the coalescer.
    bulk_requests: int = 0
    #: IDs the panel answered with their own error.
    item_errors: int = 0
    #: Requests that failed as a whole, after retries.
    request_failures: int = 0
    #: Retries made.
    retries: int = 0

    @property
    def ids_per_request(self) -> float:
        """The mean number of IDs in a bulk request."""
        return self.ids_sent / self.bulk_requests if self.bulk_requests else 0.0
