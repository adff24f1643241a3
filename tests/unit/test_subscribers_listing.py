"""How a subscriber filter becomes SQL (no database): the client's expression is sandboxed,
lists are an ``EXISTS`` (each subscriber once), and an expression naming the joined
``subscriber_lists`` is evaluated against the subscription rows."""

from __future__ import annotations

import pytest

from readmodels.sandbox import QueryRefused
from readmodels.subscriber_listing import (
    Selection,
    SubscriberFilter,
    format_query,
    selection,
)


def sql_of(s: Selection) -> tuple[str, str]:
    return s.source.as_string(None), s.condition.as_string(None)


def test_no_filter_selects_everyone() -> None:
    s = selection(SubscriberFilter())
    assert sql_of(s) == ('"readmodel"."subscribers"', "TRUE") and s.params == ()


def test_format_query_trims_and_drops_one_semicolon() -> None:
    assert format_query("  subscribers.id = 1; ") == "subscribers.id = 1"
    assert format_query(None) == ""


def test_expression_search_and_lists_are_combined() -> None:
    s = selection(SubscriberFilter(query="subscribers.email='a@b.c'", search="ann",
                                   list_ids=(3, 4), subscription_status="confirmed"))
    source, condition = sql_of(s)
    assert source == '"readmodel"."subscribers"'
    assert condition.startswith('("subscribers"."name" ~* %s OR "subscribers"."email" ~* %s)')
    assert 'EXISTS (SELECT 1 FROM "readmodel"."subscriber_lists"' in condition
    assert condition.endswith(""" AND ("subscribers"."email" = 'a@b.c')""")
    assert s.params == ("ann", "ann", [3, 4], "confirmed")


def test_subscription_columns_are_matched_inside_the_lists_exists() -> None:
    s = selection(SubscriberFilter(query="subscriber_lists.status = 'unconfirmed'",
                                   list_ids=(3,)))
    _, condition = sql_of(s)
    assert condition.startswith("EXISTS (") and condition.endswith(
        """ AND ("subscriber_lists"."status" = 'unconfirmed'))""")


def test_subscription_columns_without_lists_meet_an_empty_join() -> None:
    source, condition = sql_of(selection(SubscriberFilter(
        query="subscriber_lists.status IS NULL")))
    assert source.endswith('LEFT JOIN "readmodel"."subscriber_lists" ON FALSE')
    assert condition == '("subscriber_lists"."status" IS NULL)'


def test_subscription_status_without_lists_is_ignored() -> None:
    assert sql_of(selection(SubscriberFilter(subscription_status="confirmed")))[1] == "TRUE"


@pytest.mark.parametrize("query", ["pg_sleep(1) IS NULL", "1=1; DROP TABLE x",
                                   "subscribers.id IN (SELECT id FROM eventlog.events)"])
def test_refused_expressions_raise(query: str) -> None:
    with pytest.raises(QueryRefused):
        selection(SubscriberFilter(query=query))
