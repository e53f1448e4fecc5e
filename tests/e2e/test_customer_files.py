"""Files, import and export of customers, end to end through the gateway."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
import stack
from openpyxl import Workbook, load_workbook

from tests.e2e.client import GraphQLClient, eventually, new_tenant, token_for
from tests.e2e.test_customer_profile import LIST, create

pytestmark = [pytest.mark.e2e]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
IMPORT = """
mutation($input: ImportCustomersInput!) {
  importCustomers(input: $input) {
    dryRun total valid duplicates errors { row field message }
    job { id status total }
  }
}
"""
JOB = """
query($id: ID!) {
  importJob(id: $id) {
    status total processed created updated duplicates failed errors { row field }
  }
}
"""
EXPORT = """
mutation($format: TableFormat!, $filter: CustomerFilter) {
  exportCustomers(format: $format, filter: $filter) { fileId downloadPath filename rows }
}
"""


class Session:
    """One user: GraphQL plus the gateway's /files endpoints."""

    def __init__(self, config: stack.StackConfig, tenant: str, roles: list[str], user: str):
        self.token = token_for(config.var_dir, tenant, roles, user_id=user)
        self.gql = GraphQLClient(config.gateway_url, self.token)
        self.base = config.gateway_url.removesuffix("/graphql")

    async def upload(self, data: bytes, content_type: str, **query: str) -> httpx.Response:
        async with httpx.AsyncClient(timeout=60) as http:
            return await http.post(
                f"{self.base}/files",
                params=query,
                content=data,
                headers={"Authorization": f"Bearer {self.token}", "Content-Type": content_type},
            )

    async def download(self, file_id: str) -> httpx.Response:
        async with httpx.AsyncClient(timeout=60) as http:
            return await http.get(
                f"{self.base}/files/{file_id}", headers={"Authorization": f"Bearer {self.token}"}
            )


async def test_customer_files_are_authorised_like_the_customer(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    owner = Session(live_stack, tenant, ["sales_rep"], "rep-f")
    other = Session(live_stack, tenant, ["sales_rep"], "rep-g")
    agent = Session(live_stack, tenant, ["service_agent"], "agent")
    stranger = Session(live_stack, new_tenant(), ["admin"], "boss")
    customer = await create(owner.gql, "Paperwork Ltd")
    pdf = b"%PDF-1.4 contract " + bytes(range(256)) * 100

    uploaded = await owner.upload(
        pdf, "application/pdf", kind="CONTRACT", customerId=customer["id"], filename="合同.pdf"
    )
    assert uploaded.status_code == 201, uploaded.text
    file_id = uploaded.json()["id"]
    for reader in (owner, agent):
        got = await reader.download(file_id)
        assert got.status_code == 200 and got.content == pdf
        assert got.headers["content-type"] == "application/pdf"
    denied = await other.download(file_id)
    assert denied.status_code == 403
    assert denied.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await stranger.download(file_id)).status_code == 404

    refusals = [
        (other, pdf, "application/pdf", {"kind": "CONTRACT", "customerId": customer["id"]}, 403),
        (agent, pdf, "application/pdf", {"kind": "CONTRACT", "customerId": customer["id"]}, 403),
        (owner, b"MZ...", "application/x-msdownload",
         {"kind": "CONTRACT", "customerId": customer["id"]}, 400),
        (owner, b"x" * (10 * 1024 * 1024 + 1), "application/pdf",
         {"kind": "PROPOSAL", "customerId": customer["id"]}, 400),
        (owner, pdf, "application/pdf", {"kind": "CONTRACT"}, 400),
    ]  # fmt: skip
    for session, data, content_type, query, status in refusals:
        response = await session.upload(data, content_type, filename="f.pdf", **query)
        assert response.status_code == status, (query, response.text)
    async with httpx.AsyncClient() as http:
        anonymous = await http.get(f"{owner.base}/files/{file_id}")
    assert anonymous.status_code == 401


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


async def _job_done(session: Session, job_id: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        job: dict[str, Any] = (await session.gql.execute(JOB, {"id": job_id})).ok()["importJob"]
        return job if job["status"] != "RUNNING" else None

    return await eventually(done)


async def test_import_csv_dry_run_job_and_idempotent_rerun(live_stack: stack.StackConfig) -> None:
    rep = Session(live_stack, new_tenant(), ["sales_rep"], "rep-i")
    await create(rep.gql, "Existing Import Co., Ltd.")
    table = [
        ["Company", "province", "City", "contact_name", "contact_phone", "founded_on", "tags"],
        ["Import One", "浙江", "杭州", "Zhang", "13800000001", "2010-01-01", "a;b"],
        ["Import Two", "Guangdong", "深圳", "", "", "", ""],
        ["EXISTING IMPORT LTD", "", "", "", "", "", ""],
        ["Import Bad Date", "", "", "", "", "2999-01-01", ""],
        ["Import Three", "Atlantis", "", "", "", "", ""],
        ["import one", "", "", "", "", "", ""],
        ["Import Four", "", "", "Li", "12", "", ""],
        ["Import Five", "北京市", "", "", "", "", ""],
    ]
    uploaded = await rep.upload(_csv(table), "text/csv", kind="IMPORT", filename="c.csv")
    assert uploaded.status_code == 201, uploaded.text
    file_id = uploaded.json()["id"]
    variables: dict[str, Any] = {
        "fileId": file_id,
        "format": "CSV",
        "mapping": [
            {"column": "Company", "field": "NAME"},
            {"column": "province", "field": "PROVINCE"},
            {"column": "City", "field": "CITY"},
            {"column": "contact_name", "field": "CONTACT_NAME"},
            {"column": "contact_phone", "field": "CONTACT_PHONE"},
            {"column": "founded_on", "field": "FOUNDED_ON"},
            {"column": "tags", "field": "TAGS"},
        ],
    }
    dry = (await rep.gql.execute(IMPORT, {"input": {**variables, "dryRun": True}})).ok()
    report = dry["importCustomers"]
    assert (report["total"], report["valid"], report["duplicates"]) == (8, 5, 2)
    assert [(e["row"], e["field"]) for e in report["errors"]] == [
        (4, "foundedOn"),
        (5, "region.province"),
        (7, "phone"),
    ]
    assert report["job"] is None
    assert (await rep.gql.execute(LIST, {})).ok()["customers"]["totalCount"] == 1

    started = (await rep.gql.execute(IMPORT, {"input": {**variables, "dryRun": False}})).ok()
    job = await _job_done(rep, started["importCustomers"]["job"]["id"])
    assert job["status"] == "DONE"
    assert (job["total"], job["processed"], job["created"], job["duplicates"], job["failed"]) == (
        8, 8, 3, 2, 3,
    )  # fmt: skip
    listed = (await rep.gql.execute(LIST, {"search": "Import"})).ok()["customers"]
    assert sorted(e["node"]["name"] for e in listed["edges"]) == [
        "Import Five",
        "Import One",
        "Import Two",
    ]
    numbers = sorted(e["node"]["number"] for e in listed["edges"])
    assert [int(n[-3:]) for n in numbers] == [2, 3, 4]  # right after the existing customer

    rerun = (await rep.gql.execute(IMPORT, {"input": {**variables, "dryRun": False}})).ok()
    again = await _job_done(rep, rerun["importCustomers"]["job"]["id"])
    assert (again["created"], again["duplicates"]) == (0, 5)
    assert (await rep.gql.execute(LIST, {})).ok()["customers"]["totalCount"] == 4


async def test_import_xlsx_updates_existing_when_asked(live_stack: stack.StackConfig) -> None:
    rep = Session(live_stack, new_tenant(), ["sales_rep"], "rep-x")
    existing = await create(rep.gql, "Workbook Trading", industry="retail")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["name", "industry", "employees"])
    sheet.append(["Workbook Trading Co., Ltd.", "wholesale", 42])
    sheet.append(["Workbook New", "tea", 7])
    buffer = io.BytesIO()
    book.save(buffer)
    uploaded = await rep.upload(buffer.getvalue(), XLSX, kind="IMPORT", filename="w.xlsx")
    file_id = uploaded.json()["id"]
    started = (await rep.gql.execute(
        IMPORT,
        {"input": {"fileId": file_id, "format": "XLSX", "dryRun": False, "updateExisting": True}},
    )).ok()  # fmt: skip
    job = await _job_done(rep, started["importCustomers"]["job"]["id"])
    assert (job["created"], job["updated"], job["failed"]) == (1, 1, 0)
    query = "query($id: ID!) { customer(id: $id) { industry size { employees } } }"
    updated = (await rep.gql.execute(query, {"id": existing["id"]})).ok()["customer"]
    assert updated == {"industry": "wholesale", "size": {"employees": 42}}


async def test_export_csv_and_xlsx_of_a_filtered_list(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    rep = Session(live_stack, tenant, ["sales_rep"], "rep-e")
    analyst = Session(live_stack, tenant, ["analyst"], "analyst-e")
    contact = [{"name": "E", "phone": "13912345678", "email": "e@export.example"}]
    await create(rep.gql, "Export Urgent", urgency="HIGH", contacts=contact)
    await create(rep.gql, "Export Calm", urgency="LOW")
    urgent = {"urgency": {"eq": "HIGH"}}

    exported = (await rep.gql.execute(EXPORT, {"format": "CSV", "filter": urgent})).ok()
    result = exported["exportCustomers"]
    assert result["rows"] == 1 and result["filename"].endswith(".csv")
    got = await rep.download(result["fileId"])
    assert got.status_code == 200
    rows = list(csv.DictReader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert [(r["name"], r["urgency"], r["contact_phone"]) for r in rows] == [
        ("Export Urgent", "HIGH", "13912345678")
    ]

    masked = (await analyst.gql.execute(EXPORT, {"format": "XLSX", "filter": urgent})).ok()
    got = await analyst.download(masked["exportCustomers"]["fileId"])
    sheet = load_workbook(io.BytesIO(got.content)).active
    assert sheet is not None
    header, *values = [list(r) for r in sheet.iter_rows(values_only=True)]
    row = dict(zip(header, values[0], strict=True))
    assert (row["name"], row["contact_phone"], row["contact_email"]) == (
        "Export Urgent", "139******78", "e***@export.example",
    )  # fmt: skip
    # Someone else's export is not theirs to download.
    assert (await analyst.download(result["fileId"])).status_code == 403
