"""What the sandbox holds, listed through its API: the ground truth of the no-duplicate tests."""

from __future__ import annotations

import stripe

from payflow_sandbox import Sandbox

KEY = "sk_test_faults"


def ids_in_sandbox(sandbox: Sandbox, path: str) -> list[str]:
    """Every object id the sandbox lists at `path` (all pages)."""
    http_client = stripe.RequestsClient()
    client = stripe.StripeClient(KEY, base_addresses={"api": sandbox.url}, http_client=http_client)
    ids: list[str] = []
    params: dict[str, object] = {"limit": 100}
    try:
        while True:
            page = client.raw_request("get", path, **params).data
            ids += [item["id"] for item in page["data"]]
            if not page["has_more"]:
                return ids
            params["starting_after"] = ids[-1]
    finally:
        http_client.close()  # type: ignore[no-untyped-call]
