"""The quote document as a PDF, rendered with ReportLab.

Text is set in ReportLab's built-in CID font ``STSong-Light`` (Adobe's Chinese font, resolved
by the PDF viewer, nothing to download or embed), so Chinese company names and item
descriptions print as well as Latin text. Amounts come from the domain's exact line amounts.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from crm_quoting.domain.money import Money
from crm_quoting.domain.quote import Quote
from crm_quoting.service.ports import QuotingSettings

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

_BODY = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12)
_TITLE = ParagraphStyle("title", fontName=FONT, fontSize=16, leading=20, spaceAfter=6)
_CELL = ParagraphStyle("cell", fontName=FONT, fontSize=8, leading=10)


def _bps(value: int) -> str:
    whole, rest = divmod(value, 100)
    return f"{whole}.{rest:02d}%" if rest else f"{whole}%"


class ReportLabQuoteRenderer:
    """Implements the ``QuoteRenderer`` port."""

    def render(self, quote: Quote, settings: QuotingSettings) -> bytes:
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

        def money(minor: int) -> str:
            return Money(minor, quote.currency).format()

        story: list[Flowable] = [
            Paragraph(escape(settings.company_name or "Quotation"), _TITLE),
            Paragraph(escape(settings.company_address), _BODY),
            Paragraph(escape(settings.company_phone), _BODY),
            Spacer(1, 6 * mm),
            Paragraph(f"报价单 Quotation {escape(quote.number)} v{quote.version}", _TITLE),
            Paragraph(f"Customer reference: {escape(quote.customer_id)}", _BODY),
            Paragraph(f"Date: {quote.created_at:%Y-%m-%d}", _BODY),
            Paragraph(f"Valid until 有效期至: {quote.valid_until.isoformat()}", _BODY),
            Paragraph(f"Currency: {quote.currency} · Status: {quote.status.value}", _BODY),
            Spacer(1, 5 * mm),
        ]
        header = ["#", "Item", "Qty", "Unit price", "Discount", "Tax", "Net", "Total"]
        rows: list[list[Flowable]] = [[Paragraph(h, _CELL) for h in header]]
        for line in quote.lines:
            amounts = line.amounts
            item = escape(line.description)
            if line.catalogue_code:
                item = f"{escape(line.catalogue_code)} {item}"
            rows.append(
                [
                    Paragraph(str(line.position), _CELL),
                    Paragraph(item, _CELL),
                    Paragraph(f"{line.quantity} {escape(line.unit)}", _CELL),
                    Paragraph(money(line.unit_price_minor), _CELL),
                    Paragraph(_bps(line.discount_bp), _CELL),
                    Paragraph(_bps(line.tax_rate_bp), _CELL),
                    Paragraph(money(amounts.net_minor), _CELL),
                    Paragraph(money(amounts.total_minor), _CELL),
                ]
            )
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
        totals = quote.totals
        story += [
            table,
            Spacer(1, 5 * mm),
            Paragraph(f"Subtotal: {money(totals.gross_minor)}", _BODY),
            Paragraph(f"Discount: {money(totals.discount_minor)}", _BODY),
            Paragraph(f"Net: {money(totals.net_minor)}", _BODY),
            Paragraph(f"Tax: {money(totals.tax_minor)}", _BODY),
            Paragraph(f"Total 合计: {money(totals.total_minor)}", _TITLE),
            Paragraph(
                "Amounts are rounded per line, half up, to the currency's minor unit; "
                "totals are the sums of the rounded lines.",
                _BODY,
            ),
        ]
        document.build(story)
        return buffer.getvalue()
