"""What the sandbox holds, listed through its API: the ground truth of the no-duplicate tests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import stripe

from payflow_sandbox import Sandbox

KEY = "sk_test_faults"


@contextmanager
def _client(sandbox: Sandbox) -> Iterator[stripe.StripeClient]:
    http_client = stripe.RequestsClient()
    try:
        yield stripe.StripeClient(KEY, base_addresses={"api": sandbox.url}, http_client=http_client)
    finally:
        http_client.close()  # type: ignore[no-untyped-call]


def ids_in_sandbox(sandbox: Sandbox, path: str) -> list[str]:
    """Every object id the sandbox lists at `path` (all pages)."""
    ids: list[str] = []
    params: dict[str, object] = {"limit": 100}
    with _client(sandbox) as client:
        while True:
            page = client.raw_request("get", path, **params).data
            ids += [item["id"] for item in page["data"]]
            if not page["has_more"]:
                return ids
            params["starting_after"] = ids[-1]


def sources_in_sandbox(sandbox: Sandbox, customer_ids: Iterable[str]) -> list[str]:
    """The ids of the cards saved on these customers (the sandbox lists a customer's in one
    page, and takes no `limit` there)."""
    ids: list[str] = []
    with _client(sandbox) as client:
        for customer_id in customer_ids:
            page = client.raw_request("get", f"/v1/customers/{customer_id}/sources").data
            assert not page["has_more"]
            ids += [item["id"] for item in page["data"]]
    return ids
