"""Survey use cases: send after a delivery or resolution, answer by token (no login), CSAT.

The raw response token exists only in memory: it goes to the link sender (or, when staff
re-issue a link, once into the mutation's answer); storage keeps its SHA-256 only.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from html import escape
from urllib.parse import urlencode

from crm_common.auth import Principal, Role
from crm_common.clock import utc_now
from crm_common.email import Delivery, valid_address
from crm_common.errors import BadUserInput, Conflict, NotFound
from crm_common.events.contracts.servicedesk import SurveyResponded, SurveySent
from crm_common.pagination import Page, PageRequest
from crm_service_desk.domain.permissions import (
    Visibility,
    can_edit_templates,
    can_read,
    can_work,
    may_see_customer,
    visibility,
)
from crm_service_desk.domain.survey import (
    DimensionCsat,
    Survey,
    SurveyChannel,
    SurveyStatus,
    SurveySubject,
    SurveyTemplate,
    default_template,
    hash_token,
    new_token,
    validate_response,
    validate_template,
)
from crm_service_desk.service.ports import (
    ContactDirectory,
    CustomerRefRepository,
    SurveyLinkSender,
    SurveyMailer,
    SurveyRepository,
    SurveyTokens,
)
from crm_service_desk.service.tickets import desk_event


def response_url(base_url: str, token: str) -> str:
    return f"{base_url}?{urlencode({'token': token})}"


async def send_survey(
    tenant_id: str,
    customer_id: str,
    subject: SurveySubject,
    subject_id: str,
    surveys: SurveyRepository,
    sender: SurveyLinkSender,
    base_url: str,
    now: datetime,
) -> Survey | None:
    """Send the survey of a delivered order or resolved ticket (once per subject)."""
    template = await surveys.template_for(subject) or default_template(tenant_id)
    survey = Survey(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        customer_id=customer_id,
        subject_type=subject,
        subject_id=subject_id,
        template_id=template.id,
        dimensions=template.dimensions,
        status=SurveyStatus.SENT,
        sent_at=now,
    )
    token = new_token()
    event = desk_event(
        SurveySent(
            survey_id=survey.id,
            customer_id=customer_id,
            subject_type=subject.value,
            subject_id=subject_id,
            template_id=template.id,
            dimensions=[d.key for d in template.dimensions],
            sent_at=now,
        ),
        tenant_id,
        customer_id,
    )
    if not await surveys.add(survey, hash_token(token), [event]):
        return None
    await sender.send(survey, response_url(base_url, token))
    return survey


@dataclass(frozen=True, slots=True)
class IssuedLink:
    survey: Survey
    token: str
    url: str


class SurveyService:
    def __init__(
        self,
        principal: Principal,
        surveys: SurveyRepository,
        customers: CustomerRefRepository,
        base_url: str,
        clock: Callable[[], datetime] = utc_now,
        *,
        mailer: SurveyMailer | None = None,
        contacts: ContactDirectory | None = None,
        notify_outbox: Callable[[], None] | None = None,
    ) -> None:
        self._notify = notify_outbox
        self._mailer = mailer
        self._contacts = contacts
        self._principal = principal
        self._surveys = surveys
        self._customers = customers
        self._base_url = base_url
        self._clock = clock

    def _view(self) -> Visibility:
        view = visibility(self._principal)
        if self._principal.has_role(Role.SERVICE_MANAGER):
            return Visibility(everything=True)  # satisfaction is the whole desk's business
        return view

    async def issue_link(self, survey_id: str) -> IssuedLink:
        """A fresh single-use link for an unanswered survey (the previous one stops working)."""
        can_work(self._principal)
        survey = await self._surveys.get(survey_id, self._view())
        if survey is None:
            raise NotFound(f"survey {survey_id} not found", field="input.surveyId")
        if survey.status is not SurveyStatus.SENT:
            raise Conflict("the survey has been answered already", field="input.surveyId")
        token = new_token()
        if not await self._surveys.rotate_token(survey.id, hash_token(token)):
            raise Conflict("the survey has been answered already", field="input.surveyId")
        return IssuedLink(survey, token, response_url(self._base_url, token))

    async def email_invitation(
        self, survey_id: str, to: str | None, credentials: str | None
    ) -> tuple[Survey, Delivery]:
        """E-mail a fresh single-use link to ``to`` (default: the customer's primary contact);
        earlier links stop working. The token is in the e-mail only, never in the answer."""
        assert self._mailer is not None
        assert self._contacts is not None
        can_work(self._principal)
        survey = await self._surveys.get(survey_id, self._view())
        if survey is None:
            raise NotFound(f"survey {survey_id} not found", field="input.surveyId")
        address = (to or "").strip()
        if not address:
            found = await self._contacts.primary_email(survey.customer_id, credentials)
            if not found:
                raise BadUserInput(
                    "the customer has no primary contact with an e-mail address; pass `to`",
                    field="input.to",
                )
            address = found
        if not valid_address(address):
            raise BadUserInput(f"{address!r} is not an e-mail address", field="input.to")
        issued = await self.issue_link(survey_id)
        subject = (
            "How did we do? Your feedback on our service"
            if survey.subject_type is SurveySubject.SERVICE_ORDER
            else "How did we do? Your feedback on your support request"
        )
        questions = ", ".join(d.label for d in survey.dimensions)
        delivery = await self._mailer.queue(
            survey.id,
            to=address,
            subject=subject,
            text=(
                f"Please tell us how we did ({questions}); it takes a minute:\n\n"
                f"{issued.url}\n\nThe link works once.\n"
            ),
            html=(
                f"<p>Please tell us how we did ({escape(questions)}); it takes a minute:</p>"
                f'<p><a href="{escape(issued.url)}">Answer the survey</a></p>'
                "<p>The link works once.</p>"
            ),
            # One e-mail per issued link: the token's hash names it (a new link, a new e-mail).
            key=f"survey:{survey.id}:{hash_token(issued.token)[:32]}",
        )
        return issued.survey, delivery

    async def deliveries(self, survey: Survey) -> list[Delivery]:
        if self._mailer is None or await self.get(survey.id) is None:
            return []
        return await self._mailer.deliveries(survey.id)

    async def get(self, survey_id: str) -> Survey | None:
        return await self._surveys.get(survey_id, self._view())

    async def listing(self, page: PageRequest) -> Page[Survey]:
        return await self._surveys.listing(None, self._view(), page)

    async def for_customer(self, customer_id: str, page: PageRequest) -> Page[Survey]:
        view = self._view()
        if not view.everything and may_see_customer(
            self._principal, await self._customers.get(customer_id)
        ):
            view = Visibility(everything=True)
        return await self._surveys.listing(customer_id, view, page)

    async def csat(
        self,
        customer_id: str | None,
        subject: SurveySubject | None,
        channel: SurveyChannel | None = None,
    ) -> list[DimensionCsat]:
        return await self._surveys.csat(self._view(), customer_id, subject, channel)

    async def record_phone_answers(
        self, survey_id: str, scores: dict[str, object], comment: object
    ) -> Survey:
        """电话回访: an agent records the answers the customer gave on a call. The answer is
        marked PHONE with the agent's id, counts in CSAT like any other, and closes the link (a
        survey is answered once, whichever way comes first)."""
        can_work(self._principal)
        survey = await self._surveys.get(survey_id, self._view())
        if survey is None:
            raise NotFound(f"survey {survey_id} not found", field="input.surveyId")
        if survey.status is not SurveyStatus.SENT:
            raise Conflict("the survey has been answered already", field="input.surveyId")
        clean_scores, clean_comment = validate_response(survey.dimensions, scores, comment)
        now = self._clock()
        answer = replace(
            survey,
            status=SurveyStatus.RESPONDED,
            scores=clean_scores,
            comment=clean_comment,
            responded_at=now,
            channel=SurveyChannel.PHONE,
            recorded_by=self._principal.user_id,
        )
        event = desk_event(
            SurveyResponded(
                survey_id=survey.id,
                customer_id=survey.customer_id,
                subject_type=survey.subject_type.value,
                subject_id=survey.subject_id,
                scores=clean_scores,
                responded_at=now,
                channel=SurveyChannel.PHONE.value,
                recorded_by=self._principal.user_id,
            ),
            survey.tenant_id,
            survey.customer_id,
        )
        if not await self._surveys.record_answer(survey, answer, [event]):
            raise Conflict("the survey has been answered already", field="input.surveyId")
        if self._notify is not None:
            self._notify()
        return answer

    async def templates(self) -> list[SurveyTemplate]:
        can_read(self._principal)
        return [default_template(self._principal.tenant_id), *await self._surveys.templates()]

    async def create_template(
        self, name: str, dimensions: list[tuple[str, str]], subject: SurveySubject | None
    ) -> SurveyTemplate:
        can_edit_templates(self._principal)
        clean_name, clean_dimensions = validate_template(name, dimensions, subject)
        template = SurveyTemplate(
            id=str(uuid.uuid4()),
            tenant_id=self._principal.tenant_id,
            name=clean_name,
            dimensions=clean_dimensions,
            subject=subject,
            created_at=self._clock(),
        )
        await self._surveys.add_template(template)
        return template


class PublicSurveyService:
    """What the customer does with a response link: no login, the token is the credential."""

    def __init__(self, tokens: SurveyTokens, clock: Callable[[], datetime] = utc_now) -> None:
        self._tokens = tokens
        self._clock = clock

    async def _by_token(self, token: object) -> tuple[Survey, str]:
        if not isinstance(token, str) or not token or len(token) > 200:
            raise NotFound("unknown survey link", field="token")
        token_hash = hash_token(token)
        survey = await self._tokens.by_token(token_hash)
        if survey is None:
            raise NotFound("unknown survey link", field="token")
        if survey.status is not SurveyStatus.SENT:
            raise Conflict("this survey has been answered already", field="token")
        return survey, token_hash

    async def form(self, token: object) -> Survey:
        survey, _ = await self._by_token(token)
        return survey

    async def respond(self, token: object, scores: object, comment: object) -> Survey:
        survey, token_hash = await self._by_token(token)
        if not isinstance(scores, dict):
            scores = {}
        clean_scores, clean_comment = validate_response(survey.dimensions, scores, comment)
        now = self._clock()
        event = desk_event(
            SurveyResponded(
                survey_id=survey.id,
                customer_id=survey.customer_id,
                subject_type=survey.subject_type.value,
                subject_id=survey.subject_id,
                scores=clean_scores,
                responded_at=now,
            ),
            survey.tenant_id,
            survey.customer_id,
        )
        if not await self._tokens.respond(
            survey, token_hash, clean_scores, clean_comment, now, [event]
        ):
            # Someone answered with this token between our read and our write.
            raise Conflict("this survey has been answered already", field="token")
        return replace(
            survey,
            status=SurveyStatus.RESPONDED,
            scores=clean_scores,
            comment=clean_comment,
            responded_at=now,
            channel=SurveyChannel.LINK,
        )
