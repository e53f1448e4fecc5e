"""The quote document as a PDF, rendered with ReportLab.

Addressed to the customer: the company's name and number (the customer copy) and its primary
contact's name, phone and e-mail (see ``QuoteService.document``), never an internal id alone.
All text is set in Noto Sans CJK SC, **embedded** in the PDF as a subset of the glyphs used
(``cjk_font``): Chinese company names, item descriptions and headings show in any viewer,
one without Chinese fonts included. Amounts come from the domain's exact line amounts.
"""

from __future__ import annotations

import io
import threading
import uuid
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from crm_quoting.adapters.cjk_font import truetype_subset
from crm_quoting.domain.money import Money
from crm_quoting.domain.quote import Quote
from crm_quoting.service.ports import QuoteParty, QuotingSettings


def _bps(value: int) -> str:
    whole, rest = divmod(value, 100)
    return f"{whole}.{rest:02d}%" if rest else f"{whole}%"


_RENDER_LOCK = threading.Lock()


class ReportLabQuoteRenderer:
    """Implements the ``QuoteRenderer`` port."""

    def render(self, quote: Quote, settings: QuotingSettings, party: QuoteParty) -> bytes:
        def money(minor: int) -> str:
            return Money(minor, quote.currency).format()

        heading: list[tuple[str, str]] = [
            ("title", settings.company_name or "Quotation"),
            ("body", settings.company_address),
            ("body", settings.company_phone),
            ("gap", ""),
            ("title", f"报价单 Quotation {quote.number} v{quote.version}"),
            ("body", f"客户 Customer: {party.company_name}"),
        ]
        if party.customer_number:
            heading.append(("body", f"客户编号 Customer no.: {party.customer_number}"))
        if party.contact_name:
            reach = " · ".join(v for v in (party.contact_phone, party.contact_email) if v)
            contact = f"{party.contact_name} ({reach})" if reach else party.contact_name
            heading.append(("body", f"联系人 Contact: {contact}"))
        heading += [
            ("body", f"日期 Date: {quote.created_at:%Y-%m-%d}"),
            ("body", f"有效期至 Valid until: {quote.valid_until.isoformat()}"),
            ("body", f"币种 Currency: {quote.currency} · 状态 Status: {quote.status.value}"),
        ]
        header = ["#", "项目 Item", "数量 Qty", "单价 Unit price", "折扣 Discount", "税率 Tax"]
        header += ["净额 Net", "合计 Total"]
        cells: list[list[str]] = []
        for line in quote.lines:
            amounts = line.amounts
            item = line.description
            if line.catalogue_code:
                item = f"{line.catalogue_code} {item}"
            cells.append(
                [
                    str(line.position),
                    item,
                    f"{line.quantity} {line.unit}",
                    money(line.unit_price_minor),
                    _bps(line.discount_bp),
                    _bps(line.tax_rate_bp),
                    money(amounts.net_minor),
                    money(amounts.total_minor),
                ]
            )
        totals = quote.totals
        footer: list[tuple[str, str]] = [
            ("body", f"小计 Subtotal: {money(totals.gross_minor)}"),
            ("body", f"折扣 Discount: {money(totals.discount_minor)}"),
            ("body", f"净额 Net: {money(totals.net_minor)}"),
            ("body", f"税额 Tax: {money(totals.tax_minor)}"),
            ("title", f"合计 Total: {money(totals.total_minor)}"),
            (
                "body",
                "Amounts are rounded per line, half up, to the currency's minor unit; "
                "totals are the sums of the rounded lines.",
            ),
        ]
        every_text = "".join(t for _, t in heading + footer) + "".join(
            "".join(row) for row in [header, *cells]
        )
        # A name of its own per document: renders in parallel threads never share a font
        # object, and the registration is dropped once the document is written.
        font = f"QuoteCJK-{uuid.uuid4().hex}"
        subset_font = truetype_subset(every_text)
        # ReportLab keeps module-level state and is not thread-safe: one document at a time.
        # Its registry also remembers a TrueType font by face name (`_dynFaceNames`) and hands
        # the first font registered under a face to every later registration of that face:
        # each document's subset has the same face name, so a second document was set in the
        # first one's glyphs (tofu for every character the first lacked). Both entries are
        # dropped once the document is written.
        with _RENDER_LOCK:
            cjk = TTFont(font, io.BytesIO(subset_font))
            faces: dict[object, object] = getattr(pdfmetrics, "_dynFaceNames")  # noqa: B009
            fonts: dict[str, object] = getattr(pdfmetrics, "_fonts")  # noqa: B009
            faces.pop(cjk.face.name, None)
            pdfmetrics.registerFont(cjk)
            try:
                return self._build(quote, settings, font, heading, header, cells, footer)
            finally:
                fonts.pop(font, None)
                faces.pop(cjk.face.name, None)

    def _build(
        self,
        quote: Quote,
        settings: QuotingSettings,
        font: str,
        heading: list[tuple[str, str]],
        header: list[str],
        cells: list[list[str]],
        footer: list[tuple[str, str]],
    ) -> bytes:
        styles = {
            "body": ParagraphStyle("body", fontName=font, fontSize=9, leading=12),
            "title": ParagraphStyle("title", fontName=font, fontSize=16, leading=20, spaceAfter=6),
        }
        cell_style = ParagraphStyle("cell", fontName=font, fontSize=8, leading=10)

        def paragraphs(texts: list[tuple[str, str]]) -> list[Flowable]:
            return [
                Spacer(1, 6 * mm) if kind == "gap" else Paragraph(escape(text), styles[kind])
                for kind, text in texts
            ]

        buffer = io.BytesIO()
        document = SimpleDocTemplate(
            buffer,
            pagesize=A4,
            leftMargin=15 * mm,
            rightMargin=15 * mm,
            topMargin=15 * mm,
            bottomMargin=15 * mm,
            title=f"Quote {quote.number} v{quote.version}",
            author=settings.company_name or "CRM",
        )
        story = [*paragraphs(heading), Spacer(1, 5 * mm)]
        rows = [[Paragraph(escape(text), cell_style) for text in row] for row in [header, *cells]]
        table = Table(
            rows,
            colWidths=[8 * mm, 52 * mm, 18 * mm, 24 * mm, 16 * mm, 14 * mm, 24 * mm, 24 * mm],
            repeatRows=1,
        )
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story += [table, Spacer(1, 5 * mm), *paragraphs(footer)]
        document.build(story)
        return buffer.getvalue()
