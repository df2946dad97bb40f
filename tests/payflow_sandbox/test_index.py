"""The sandbox's index of localstripe's store lists what localstripe's own scan lists, in order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from localstripe import resources

from payflow_sandbox import _index

TYPES = ("customer", "charge", "refund", "subscription")

# What can happen to the store: an object stored (new or replacing one), one deleted, all cleared.
operations = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.sampled_from((*TYPES, "balance")), st.integers(0, 5)),
        st.tuples(st.just("del"), st.sampled_from(TYPES), st.integers(0, 5)),
        st.tuples(st.just("clear"), st.just(""), st.just(0)),
    ),
    max_size=40,
)


@pytest.fixture(scope="module")
def indexed() -> Iterator[Any]:
    """localstripe's scan, as it was before the index was installed in this process."""
    saved = {
        name: resources.Store.__dict__.get(name)
        for name in ("__setitem__", "__delitem__", "clear", "dump_to_disk")
    }
    scan = resources.StripeObject.__dict__["_api_list_all"]
    resources.Store.dump_to_disk = lambda store: None  # no /tmp/localstripe.pickle
    _index.install(resources)
    yield scan
    resources.store.clear()
    for name, method in saved.items():
        if method is None:
            delattr(resources.Store, name)
        else:
            setattr(resources.Store, name, method)
    resources.StripeObject._api_list_all = scan


class _Listed:
    """Stands for a localstripe class: all `_api_list_all` reads of it is `object`."""

    def __init__(self, object_type: str) -> None:
        self.object = object_type


@given(operations)
def test_the_index_lists_what_localstripe_s_scan_lists(
    indexed: Any, steps: list[tuple[str, str, int]]
) -> None:
    """After any sequence of stores, deletions and clears, each type lists the same objects in
    the same order from the index as from a scan of the whole store."""
    store = resources.store
    store.clear()
    for action, object_type, n in steps:
        key = f"{object_type}:{n}" if object_type != "balance" else "balance"
        if action == "set":
            store[key] = object()
        elif action == "del" and key in store:
            del store[key]
        elif action == "clear":
            store.clear()
    for object_type in (*TYPES, "balance"):
        cls = _Listed(object_type)
        expected = indexed.__func__(cls, "/v1/x")._list
        actual = resources.StripeObject._api_list_all.__func__(cls, "/v1/x")._list
        assert [id(o) for o in expected] == [id(o) for o in actual]


def test_other_arguments_are_refused_as_localstripe_does(indexed: Any) -> None:
    """An argument the listing does not take is a 400 naming it, as in localstripe."""
    with pytest.raises(resources.UserError) as refused:
        resources.StripeObject._api_list_all("/v1/customers", colour="red")
    assert 400 == refused.value.code
