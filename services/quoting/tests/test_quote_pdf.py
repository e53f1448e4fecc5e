"""The quote PDF: addressed to the customer's company and contact, Chinese text in an embedded
font (a viewer without Chinese fonts shows it), small enough to e-mail."""

from __future__ import annotations

import dataclasses
import io
import os
from datetime import UTC, date, datetime

from pypdf import PdfReader

from crm_quoting.adapters.pdf import ReportLabQuoteRenderer
from crm_quoting.domain.money import Quantity
from crm_quoting.domain.quote import Quote, QuoteLine, QuoteStatus
from crm_quoting.service.ports import QuoteParty, QuotingSettings

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SETTINGS = QuotingSettings(
    auto_approve_below_bp=500,
    company_name="示例软件有限公司 Example Software",
    company_address="上海市浦东新区世纪大道 100 号",
    company_phone="+86 21 5555 0000",
)
PARTY = QuoteParty(
    company_name="杭州云启科技有限公司",
    customer_number="C-000042",
    contact_name="王芳",
    contact_phone="+86 138 0000 1234",
    contact_email="wang.fang@yunqi.example.cn",
)


def _quote() -> Quote:
    return Quote(
        id="q1",
        tenant_id="t1",
        number="QUO20261123001",
        version=2,
        opportunity_id="o1",
        customer_id="5f0c2a4e-0000-4000-8000-00000000c0de",
        owner_id="alice",
        team="north",
        currency="CNY",
        valid_until=date(2026, 12, 31),
        status=QuoteStatus.APPROVED,
        lines=(
            QuoteLine(
                position=1,
                description="客户关系管理系统 企业版 年度许可",
                unit="席位",
                quantity=Quantity.parse("20", "q"),
                unit_price_minor=1_280_00,
                discount_bp=500,
                tax_rate_bp=600,
                catalogue_code="CRM-ENT",
            ),
        ),
        created_at=NOW,
        updated_at=NOW,
    )


def _render() -> bytes:
    pdf = ReportLabQuoteRenderer().render(_quote(), SETTINGS, PARTY)
    if target := os.environ.get("QUOTE_PDF_OUT"):  # to look at it: pdftoppm -png
        with open(target, "wb") as out:
            out.write(pdf)
    return pdf


def test_the_pdf_embeds_its_cjk_font_as_a_subset() -> None:
    reader = PdfReader(io.BytesIO(_render()))
    fonts = []
    for page in reader.pages:
        resources = page["/Resources"]["/Font"]
        for ref in resources.values():
            font = ref.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is None and "/DescendantFonts" in font:
                descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
            if descriptor is not None:  # ReportLab's default Helvetica is listed, unused
                fonts.append((str(font["/BaseFont"]), descriptor.get_object()))
    cjk = [(name, d) for name, d in fonts if "NotoSansCJKsc" in name]
    assert cjk, fonts
    for name, descriptor in cjk:
        # A subset ("ABCDEF+" prefix) whose glyphs travel inside the file.
        assert name.split("+", 1)[0].isupper() and "+" in name
        assert "/FontFile2" in descriptor
    # Only built-in CID fonts a viewer would have to supply are gone.
    assert not any("STSong" in name for name, _ in fonts)


def test_the_pdf_names_the_customer_and_contact_and_its_chinese_text_is_extractable() -> None:
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(_render())).pages)
    for expected in (
        "杭州云启科技有限公司",
        "C-000042",
        "王芳",
        "wang.fang@yunqi.example.cn",
        "+86 138 0000 1234",
        "报价单",
        "客户关系管理系统",
        "QUO20261123001",
    ):
        assert expected in text, expected
    assert "5f0c2a4e" not in text  # the customer is named, not referred to by id


def test_the_pdf_stays_small() -> None:
    assert len(_render()) < 120_000


def test_a_later_document_in_the_same_process_has_its_own_glyphs() -> None:
    """ReportLab hands a face registered once to every later font of that face name: each
    document must still be set in its own subset (it was not: tofu for new characters)."""
    renderer = ReportLabQuoteRenderer()
    renderer.render(_quote(), SETTINGS, QuoteParty(company_name="某某公司 ABC"))
    other = dataclasses.replace(
        SETTINGS, company_name="杭州西湖软件有限公司", company_address="1 West Lake Road, Hangzhou"
    )
    later = renderer.render(_quote(), other, QuoteParty(company_name="杭州云启科技有限公司"))
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(later)).pages)
    assert "杭州西湖软件有限公司" in text
    assert "1 West Lake Road, Hangzhou" in text
