"""Root fields of the customer subgraph."""

from __future__ import annotations

from typing import Any

import strawberry

from crm_common.errors import BadUserInput
from crm_common.graphql.relay import Connection, to_connection
from crm_common.graphql.schema import SubgraphSchema, build_schema
from crm_common.pagination import PageRequest
from crm_customer.api.cadence import cadence_ids
from crm_customer.api.cadence_mutation import (
    SET_CADENCE_DESCRIPTION,
    SetEngagementCadencePayload,
    set_engagement_cadence,
)
from crm_customer.api.context import principal_of, services_of
from crm_customer.api.loaders import customer_loader
from crm_customer.api.types import (
    AddContactInput,
    AddContactPayload,
    AssignCustomerOwnerInput,
    BoundingBoxInput,
    CategoriseCustomerFileInput,
    ChangeCustomerStatusInput,
    ColumnMappingInput,
    Contact,
    CreateCustomerInput,
    CreateCustomerPayload,
    Customer,
    CustomerFile,
    CustomerFilePayload,
    CustomerFilter,
    CustomerOrderBy,
    CustomerPayload,
    CustomFieldDefinition,
    DefineCustomFieldInput,
    DefineCustomFieldPayload,
    DeleteCustomerFileInput,
    DeleteCustomerInput,
    DuplicateCandidate,
    DuplicateReason,
    ExportCustomersPayload,
    ImportCustomersInput,
    ImportCustomersPayload,
    ImportJob,
    ImportRowError,
    MergeCustomersInput,
    OrderDirection,
    RegionCount,
    RemoveContactInput,
    RenameCustomerFileInput,
    RestoreCustomerInput,
    ReviewCustomerInput,
    SetValueTierThresholdsInput,
    SetValueTierThresholdsPayload,
    TableFormat,
    UpdateContactInput,
    UpdateCustomerInput,
    ValueTierThresholds,
    contact_from_input,
    custom_field_values,
    profile_values,
    split_filter,
)
from crm_customer.service.customers import CustomerService
from crm_customer.service.files import FileService
from crm_customer.service.ports import BoundingBox, ListQuery


def _service(info: strawberry.Info) -> CustomerService:
    service: CustomerService = services_of(info).customers(principal_of(info))
    return service


def _files(info: strawberry.Info) -> FileService:
    service: FileService = services_of(info).files(principal_of(info))
    return service


@strawberry.type
class Query:
    @strawberry.field(
        description="One customer by id (deleted ones and tombstones included); "
        "null if it does not exist or is not yours."
    )
    async def customer(self, info: strawberry.Info, id: strawberry.ID) -> Customer | None:
        principal_of(info)
        return await customer_loader(info).load(str(id))

    @strawberry.field(
        description="Customers you may see, filtered, ordered and paginated. `search` is a "
        "prefix of the name, the number, a contact's phone or email, or of the name's pinyin "
        "or its initials (`hangzhou` and `hzxh` both find 杭州西湖…)."
    )
    async def customers(
        self,
        info: strawberry.Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: CustomerFilter | None = None,
        order_by: CustomerOrderBy | None = None,
        search: str | None = None,
        include_deleted: bool = False,
    ) -> Connection[Customer]:
        order = order_by or CustomerOrderBy()
        plain_filter, custom_field_filters = split_filter(filter)
        plain_filter, ids_in, ids_not_in = await cadence_ids(info, plain_filter)
        page = await _service(info).list_customers(
            ListQuery(
                filter_input=plain_filter,
                order_field=order.field.value,
                descending=order.direction == OrderDirection.DESC,
                search=search,
                include_deleted=include_deleted,
                custom_field_filters=custom_field_filters,
                ids_in=ids_in,
                ids_not_in=ids_not_in,
            ),
            PageRequest(first=first, after=after, last=last, before=before),
        )
        return to_connection(page, Customer.from_model)

    @strawberry.field(
        description="Customers that may be the same company as the given customer, or as the "
        "given name/phone/email (normalised), each with the reasons."
    )
    async def customer_duplicates(
        self,
        info: strawberry.Info,
        customer_id: strawberry.ID | None = None,
        name: str | None = None,
        phone: str | None = None,
        email: str | None = None,
    ) -> list[DuplicateCandidate]:
        found = await _service(info).duplicates(
            str(customer_id) if customer_id else None,
            name,
            [phone] if phone else [],
            [email] if email else [],
        )
        return [
            DuplicateCandidate(
                customer=Customer.from_model(d.customer),
                reasons=[DuplicateReason(r) for r in d.reasons],
            )
            for d in found
        ]

    @strawberry.field(
        description="Customers with a geo point inside the box. More than 2000 (setting "
        "CRM_MAX_MAP_CUSTOMERS) is a BAD_USER_INPUT error: zoom in."
    )
    async def customers_in_box(
        self, info: strawberry.Info, box: BoundingBoxInput
    ) -> list[Customer]:
        found = await _service(info).in_box(BoundingBox(box.south, box.west, box.north, box.east))
        return [Customer.from_model(c) for c in found]

    @strawberry.field(description="How many customers per province (and city, if asked).")
    async def customer_counts_by_region(
        self, info: strawberry.Info, by_city: bool = False
    ) -> list[RegionCount]:
        rows = await _service(info).counts_by_region(by_city)
        return [RegionCount(province=r.province, city=r.city, count=r.count) for r in rows]

    @strawberry.field(description="The custom fields defined for your tenant, by key.")
    async def custom_field_definitions(self, info: strawberry.Info) -> list[CustomFieldDefinition]:
        definitions = await _service(info).custom_field_definitions()
        return [CustomFieldDefinition.from_model(d) for d in definitions]

    @strawberry.field(
        description="A customer's files, newest first, for whoever sees the customer "
        "(deleted ones only with includeDeleted); download each with GET /files/<id>."
    )
    async def customer_files(
        self,
        info: strawberry.Info,
        customer_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        include_deleted: bool = False,
    ) -> Connection[CustomerFile]:
        page = await _files(info).list_for_customer(
            str(customer_id),
            PageRequest(first=first, after=after, last=last, before=before),
            include_deleted,
        )
        return to_connection(page, CustomerFile.from_model)

    @strawberry.field(
        description="The tenant's value tier thresholds (the documented defaults until an "
        "admin sets them)."
    )
    async def value_tier_thresholds(self, info: strawberry.Info) -> ValueTierThresholds:
        return ValueTierThresholds.from_model(await _service(info).value_tier_thresholds())

    @strawberry.field(description="An import job you started (admins: any of the tenant).")
    async def import_job(self, info: strawberry.Info, id: strawberry.ID) -> ImportJob:
        job = await services_of(info).imports(principal_of(info)).job(str(id))
        return ImportJob.from_model(job)


def _import_mapping(
    columns: list[ColumnMappingInput] | None,
) -> tuple[dict[str, Any] | None, dict[str, str] | None]:
    """Profile-field and custom-field columns of the mapping (None: use the headers)."""
    if not columns:
        return None, None
    mapping: dict[str, Any] = {}
    custom: dict[str, str] = {}
    for entry in columns:
        if (entry.field is None) == (entry.custom_field is None):
            raise BadUserInput(
                f"column {entry.column!r}: give either field or customField", field="input.mapping"
            )
        if entry.field is not None:
            mapping[entry.column] = entry.field
        else:
            custom[entry.column] = str(entry.custom_field)
    return mapping, custom


def _row_errors(errors: Any) -> list[ImportRowError]:
    return [ImportRowError(row=e.row, field=e.field, message=e.message) for e in errors]


def _payload(customer: Any) -> CustomerPayload:
    return CustomerPayload(customer=Customer.from_model(customer))


@strawberry.type
class Mutation:
    set_engagement_cadence: SetEngagementCadencePayload = strawberry.mutation(
        resolver=set_engagement_cadence, description=SET_CADENCE_DESCRIPTION
    )

    @strawberry.mutation(description="Register a customer; it waits for a manager's review.")
    async def create_customer(
        self, info: strawberry.Info, input: CreateCustomerInput
    ) -> CreateCustomerPayload:
        customer = await _service(info).create(
            profile_values(input),
            owner_id=str(input.owner_id) if input.owner_id else None,
            team=input.team,
            contacts=[contact_from_input(c) for c in input.contacts],
            custom_fields=custom_field_values(input.custom_fields),
        )
        return CreateCustomerPayload(customer=Customer.from_model(customer))

    @strawberry.mutation(description="Change profile fields; each change goes to the history.")
    async def update_customer(
        self, info: strawberry.Info, input: UpdateCustomerInput
    ) -> CustomerPayload:
        customer = await _service(info).update(
            str(input.id), profile_values(input), custom_field_values(input.custom_fields)
        )
        return _payload(customer)

    @strawberry.mutation(
        description="Define a custom field for the tenant (admins), or change its label, "
        "options or requiredness; its type is fixed once defined."
    )
    async def define_custom_field(
        self, info: strawberry.Info, input: DefineCustomFieldInput
    ) -> DefineCustomFieldPayload:
        definition = await _service(info).define_custom_field(
            input.key, input.label, input.type, required=input.required, options=input.options
        )
        return DefineCustomFieldPayload(definition=CustomFieldDefinition.from_model(definition))

    @strawberry.mutation(description="Approve a new customer (sales manager): it becomes a LEAD.")
    async def approve_customer(
        self, info: strawberry.Info, input: ReviewCustomerInput
    ) -> CustomerPayload:
        customer = await _service(info).review(str(input.id), approve=True, comment=input.comment)
        return _payload(customer)

    @strawberry.mutation(description="Reject a new customer (sales manager), with a comment.")
    async def reject_customer(
        self, info: strawberry.Info, input: ReviewCustomerInput
    ) -> CustomerPayload:
        customer = await _service(info).review(str(input.id), approve=False, comment=input.comment)
        return _payload(customer)

    @strawberry.mutation(
        description="Lifecycle move: LEAD→INTENTION→DEAL, any→CHURNED, CHURNED→INTENTION."
    )
    async def change_customer_status(
        self, info: strawberry.Info, input: ChangeCustomerStatusInput
    ) -> CustomerPayload:
        customer = await _service(info).change_status(str(input.id), input.status, input.reason)
        return _payload(customer)

    @strawberry.mutation(description="Reassign owner and/or team (sales manager or admin).")
    async def assign_customer_owner(
        self, info: strawberry.Info, input: AssignCustomerOwnerInput
    ) -> CustomerPayload:
        customer = await _service(info).reassign(
            str(input.id), str(input.owner_id), input.team, input.reason
        )
        return _payload(customer)

    @strawberry.mutation(description="Add a contact; the first one is the primary.")
    async def add_contact(self, info: strawberry.Info, input: AddContactInput) -> AddContactPayload:
        customer, contact = await _service(info).add_contact(
            str(input.customer_id), contact_from_input(input.contact)
        )
        return AddContactPayload(
            customer=Customer.from_model(customer), contact=Contact.from_model(contact)
        )

    @strawberry.mutation(description="Change a contact; isPrimary: true switches the primary.")
    async def update_contact(
        self, info: strawberry.Info, input: UpdateContactInput
    ) -> CustomerPayload:
        values = {
            name: getattr(input, name)
            for name in (
                "name",
                "title",
                "decision_role",
                "phone",
                "email",
                "notes",
                "is_primary",
                "owner_id",
            )
            if getattr(input, name) is not strawberry.UNSET
        }
        if "owner_id" in values and values["owner_id"] is not None:
            values["owner_id"] = str(values["owner_id"])
        if values.get("name", "") is None:
            raise BadUserInput("a contact needs a name", field="input.name")
        customer = await _service(info).update_contact(
            str(input.customer_id), str(input.contact_id), values
        )
        return _payload(customer)

    @strawberry.mutation(description="Remove a contact (the next one becomes primary).")
    async def remove_contact(
        self, info: strawberry.Info, input: RemoveContactInput
    ) -> CustomerPayload:
        customer = await _service(info).remove_contact(
            str(input.customer_id), str(input.contact_id)
        )
        return _payload(customer)

    @strawberry.mutation(description="Soft-delete a customer (restorable).")
    async def delete_customer(
        self, info: strawberry.Info, input: DeleteCustomerInput
    ) -> CustomerPayload:
        return _payload(await _service(info).delete(str(input.id), input.reason))

    @strawberry.mutation(description="Restore a soft-deleted customer.")
    async def restore_customer(
        self, info: strawberry.Info, input: RestoreCustomerInput
    ) -> CustomerPayload:
        return _payload(await _service(info).restore(str(input.id)))

    @strawberry.mutation(
        description="Merge mergeId into keepId: contacts, tags and history move; mergeId "
        "becomes a tombstone and crm.customer.merged is published."
    )
    async def merge_customers(
        self, info: strawberry.Info, input: MergeCustomersInput
    ) -> CustomerPayload:
        customer = await _service(info).merge(str(input.keep_id), str(input.merge_id))
        return _payload(customer)

    @strawberry.mutation(
        description="Rename a customer's file (who may change the customer, or the service "
        "agent who uploaded a DELIVERABLE); kept in the file's history."
    )
    async def rename_customer_file(
        self, info: strawberry.Info, input: RenameCustomerFileInput
    ) -> CustomerFilePayload:
        stored = await _files(info).rename(str(input.id), input.filename)
        return CustomerFilePayload(file=CustomerFile.from_model(stored))

    @strawberry.mutation(
        description="Move a customer's file to another category; kept in its history."
    )
    async def categorise_customer_file(
        self, info: strawberry.Info, input: CategoriseCustomerFileInput
    ) -> CustomerFilePayload:
        stored = await _files(info).recategorise(str(input.id), input.kind)
        return CustomerFilePayload(file=CustomerFile.from_model(stored))

    @strawberry.mutation(
        description="Delete a customer's file (soft): it leaves the list and downloads; who "
        "deleted it when stays in its history (customerFiles with includeDeleted)."
    )
    async def delete_customer_file(
        self, info: strawberry.Info, input: DeleteCustomerFileInput
    ) -> CustomerFilePayload:
        stored = await _files(info).delete(str(input.id))
        return CustomerFilePayload(file=CustomerFile.from_model(stored))

    @strawberry.mutation(
        description="Set the tenant's value tier thresholds (admins) and re-tier every "
        "customer they move (each with crm.customer.value_tier_changed)."
    )
    async def set_value_tier_thresholds(
        self, info: strawberry.Info, input: SetValueTierThresholdsInput
    ) -> SetValueTierThresholdsPayload:
        thresholds, moved = await _service(info).set_value_tier_thresholds(input.to_model())
        return SetValueTierThresholdsPayload(
            thresholds=ValueTierThresholds.from_model(thresholds), retiered=moved
        )

    @strawberry.mutation(
        description="Import customers from an uploaded CSV/XLSX: a dry run reports per-row "
        "errors and duplicates without writing; otherwise a background job starts."
    )
    async def import_customers(
        self, info: strawberry.Info, input: ImportCustomersInput
    ) -> ImportCustomersPayload:
        imports = services_of(info).imports(principal_of(info))
        mapping, custom_columns = _import_mapping(input.mapping)
        if input.dry_run:
            report = await imports.dry_run(
                str(input.file_id), input.format, mapping, custom_columns
            )
            return ImportCustomersPayload(
                dry_run=True,
                total=report.total,
                valid=report.valid,
                duplicates=report.duplicates,
                errors=_row_errors(report.errors),
                job=None,
            )
        job = await imports.start(
            str(input.file_id), input.format, mapping, input.update_existing, custom_columns
        )
        return ImportCustomersPayload(
            dry_run=False,
            total=job.total,
            valid=job.total - job.failed,
            duplicates=0,
            errors=[],
            job=ImportJob.from_model(job),
        )

    @strawberry.mutation(
        description="Export the filtered list (as you see it) to CSV/XLSX; download the "
        "file with GET /files/<fileId> through the gateway."
    )
    async def export_customers(
        self,
        info: strawberry.Info,
        format: TableFormat,  # type: ignore[valid-type]
        filter: CustomerFilter | None = None,
        search: str | None = None,
        order_by: CustomerOrderBy | None = None,
    ) -> ExportCustomersPayload:
        order = order_by or CustomerOrderBy()
        principal = principal_of(info)
        plain_filter, custom_field_filters = split_filter(filter)
        plain_filter, ids_in, ids_not_in = await cadence_ids(info, plain_filter)
        result = (
            await services_of(info)
            .imports(principal)
            .export(
                _service(info),
                ListQuery(
                    filter_input=plain_filter,
                    order_field=order.field.value,
                    descending=order.direction == OrderDirection.DESC,
                    search=search,
                    custom_field_filters=custom_field_filters,
                    ids_in=ids_in,
                    ids_not_in=ids_not_in,
                ),
                format,
            )
        )
        return ExportCustomersPayload(
            file_id=strawberry.ID(result.file.id),
            download_path=f"/files/{result.file.id}",
            download_url=services_of(info).public_url(f"/files/{result.file.id}"),
            filename=result.file.filename,
            rows=result.rows,
        )


def schema() -> SubgraphSchema:
    return build_schema(query=Query, mutation=Mutation, types=[Customer])
