"""An index of localstripe's store by object type, so that listing a type reads its objects only.

localstripe keeps every object in one dict (`resources.store`, keys `"<type>:<id>"`) and lists a
type by scanning all of it (`StripeObject._api_list_all`). Exporting a customer lists its
subscriptions, a charge its refunds (for `refunds`, `amount_refunded`, `refunded`): each such
answer scanned every object ever made, so the sandbox slowed as it filled (199 -> 33 requests/s
over a 5-minute soak). Here the store also files each object under its type as it is stored, and
the listing reads that file: the same objects in the same (insertion) order.

Like `_compat`, it runs only inside the sandbox process and wraps localstripe without forking it;
`tests/payflow_sandbox/test_index.py` checks the listing against localstripe's own scan.
"""

from __future__ import annotations

from typing import Any

__all__ = ["install"]

# type -> {"<type>:<id>": object}, in the order the store got them.
_BY_TYPE: dict[str, dict[str, Any]] = {}


def _type_of(key: str) -> str | None:
    # Singletons (`balance`) are stored under their type alone, and localstripe's scan, which
    # looks for "<type>:", never lists them.
    object_type, colon, _ = key.partition(":")
    return object_type if colon else None


def install(resources: Any) -> None:
    """Index localstripe's `resources.store` from now on (and what it holds already), and list
    types from the index."""
    store_class = resources.Store

    def setitem(store: dict[str, Any], key: str, value: Any) -> None:
        dict.__setitem__(store, key, value)
        if (object_type := _type_of(key)) is not None:
            _BY_TYPE.setdefault(object_type, {})[key] = value

    def delitem(store: dict[str, Any], key: str) -> None:
        dict.__delitem__(store, key)
        if (object_type := _type_of(key)) is not None:
            _BY_TYPE[object_type].pop(key, None)

    def clear(store: dict[str, Any]) -> None:
        dict.clear(store)
        _BY_TYPE.clear()

    def list_all(
        cls: Any, /, url: str, limit: Any = None, starting_after: Any = None, **kwargs: Any
    ) -> Any:
        # localstripe's `StripeObject._api_list_all`, reading the index instead of the store.
        if kwargs:
            raise resources.UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
        listed = resources.List(url, limit=limit, starting_after=starting_after)
        listed._list = list(_BY_TYPE.get(cls.object, {}).values())
        return listed

    _BY_TYPE.clear()
    for key, value in resources.store.items():
        if (object_type := _type_of(key)) is not None:
            _BY_TYPE.setdefault(object_type, {})[key] = value
    store_class.__setitem__ = setitem
    store_class.__delitem__ = delitem
    store_class.clear = clear
    resources.StripeObject._api_list_all = classmethod(list_all)
