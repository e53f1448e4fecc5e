"""Knowledge-base use cases: publish an article, promote a resolved ticket, search."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from crm_common.auth import Principal
from crm_common.clock import utc_now
from crm_common.errors import BadUserInput, Conflict, NotFound
from crm_common.events.contracts.servicedesk import ArticlePublished
from crm_common.pagination import Page, PageRequest
from crm_service_desk.domain.article import (
    Article,
    ArticleKind,
    keywords_of,
    normalise_tags,
    query_tokens,
    validate_article,
)
from crm_service_desk.domain.permissions import can_publish, can_read, visibility
from crm_service_desk.domain.ticket import DONE_STATUSES
from crm_service_desk.service.ports import ArticleRepository, TicketRepository
from crm_service_desk.service.tickets import desk_event

# A ticket promotes to one article, whose id derives from the ticket's (so a repeat conflicts).
_PROMOTED = uuid.UUID("6f1c1d0e-5c1a-4a57-9d1e-3f0b8a2c7e41")


class ArticleService:
    def __init__(
        self,
        principal: Principal,
        articles: ArticleRepository,
        tickets: TicketRepository,
        notify_outbox: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._principal = principal
        self._articles = articles
        self._tickets = tickets
        self._notify = notify_outbox
        self._clock = clock

    async def publish(
        self,
        title: str,
        body: str,
        kind: ArticleKind,
        tags: list[str],
        *,
        article_id: str | None = None,
        source_ticket_id: str | None = None,
    ) -> Article:
        can_publish(self._principal)
        clean_title, clean_body = validate_article(title, body)
        clean_tags = normalise_tags(tags)
        article = Article(
            id=article_id or str(uuid.uuid4()),
            tenant_id=self._principal.tenant_id,
            title=clean_title,
            body=clean_body,
            kind=kind,
            tags=clean_tags,
            author_id=self._principal.user_id,
            published_at=self._clock(),
            source_ticket_id=source_ticket_id,
        )
        event = desk_event(
            ArticlePublished(
                article_id=article.id,
                title=article.title,
                kind=article.kind.value,
                tags=list(article.tags),
                author_id=article.author_id,
                source_ticket_id=source_ticket_id,
                published_at=article.published_at,
            ),
            article.tenant_id,
            article.id,
        )
        if not await self._articles.add(
            article, keywords_of(clean_title, clean_body, clean_tags), [event]
        ):
            raise Conflict("this ticket has been promoted already", field="input.ticketId")
        self._notify()
        return article

    async def promote(
        self,
        ticket_id: str,
        kind: ArticleKind,
        tags: list[str],
        title: str | None = None,
        body: str | None = None,
    ) -> Article:
        """Turn a resolved ticket into an article: its problem and how it was solved."""
        can_publish(self._principal)
        ticket = await self._tickets.get(ticket_id, visibility(self._principal))
        if ticket is None:
            raise NotFound(f"ticket {ticket_id} not found", field="input.ticketId")
        if ticket.status not in DONE_STATUSES:
            raise BadUserInput("only a resolved ticket can be promoted", field="input.ticketId")
        default_body = f"Problem:\n{ticket.description or ticket.title}\n\nSolution:\n" + (
            ticket.resolution or "(see ticket)"
        )
        return await self.publish(
            title or ticket.title,
            body or default_body,
            kind,
            [*tags, ticket.category.value.lower()],
            article_id=str(uuid.uuid5(_PROMOTED, f"{ticket.tenant_id}:{ticket.id}")),
            source_ticket_id=ticket.id,
        )

    async def get(self, article_id: str) -> Article | None:
        can_read(self._principal)
        return await self._articles.get(article_id)

    async def search(
        self, query: str | None, tags: list[str], kind: ArticleKind | None, page: PageRequest
    ) -> Page[Article]:
        """Articles containing every word of ``query`` (and every tag given), newest first."""
        can_read(self._principal)
        terms = query_tokens(query) if query and query.strip() else []
        tag_terms = [t for tag in tags for t in [tag.strip().casefold()] if t]
        return await self._articles.search(terms, tag_terms, kind.value if kind else None, page)
