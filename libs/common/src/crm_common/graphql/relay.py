"""Relay connection types (``edges``, ``node``, ``cursor``, ``pageInfo``, ``totalCount``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import strawberry

from crm_common.pagination import Page

NodeT = TypeVar("NodeT")


# Every subgraph defines the same PageInfo, so federation must be told it is shared.
@strawberry.federation.type(shareable=True, description="Where a page sits in the whole list.")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="True if more items follow this page (pass endCursor as `after`)."
    )
    has_previous_page: bool = strawberry.field(
        description="True if items come before this page (pass startCursor as `before`)."
    )
    start_cursor: str | None = strawberry.field(
        description="Opaque cursor of the first item of the page; null if the page is empty."
    )
    end_cursor: str | None = strawberry.field(
        description="Opaque cursor of the last item of the page; null if the page is empty."
    )


@strawberry.type(description="One item of a page and the cursor that points at it.")
class Edge(Generic[NodeT]):
    node: NodeT = strawberry.field(description="The item itself.")
    cursor: str = strawberry.field(
        description="Opaque position of this item; pass it as `after` or `before` to page on."
    )


@strawberry.type(description="A page of a list, with cursors to move forward and back.")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]] = strawberry.field(
        description="The items of this page, in the requested order."
    )
    page_info: PageInfo = strawberry.field(
        description="Cursors and whether there are pages before and after this one."
    )
    total_count: int = strawberry.field(description="How many items match, over all pages.")


def to_connection(page: Page[Any], to_node: Callable[[Any], NodeT]) -> Connection[NodeT]:
    edges = [Edge(node=to_node(item), cursor=cursor) for item, cursor in page.items]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=page.total_count,
    )
