"""Mongo store of the tenants' custom field definitions (one small document per field)."""

from __future__ import annotations

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from crm_common.clock import utc_now
from crm_common.errors import Conflict
from crm_common.mongo import Document, TenantRepository
from crm_customer.domain.custom_fields import CustomFieldDefinition, CustomFieldType

CUSTOM_FIELDS = "custom_field_definitions"

CUSTOM_FIELD_INDEXES = {
    CUSTOM_FIELDS: [IndexModel([("tenant_id", ASCENDING), ("key", ASCENDING)], unique=True)],
}


def _from_document(doc: Document) -> CustomFieldDefinition:
    return CustomFieldDefinition(
        key=doc["key"],
        label=doc["label"],
        type=CustomFieldType(doc["type"]),
        required=bool(doc.get("required")),
        options=tuple(doc.get("options") or ()),
    )


class MongoCustomFieldRepository(TenantRepository):
    collection_name = CUSTOM_FIELDS

    async def all(self) -> dict[str, CustomFieldDefinition]:
        cursor = self.collection.find(self.scoped(), projection={"_id": 0})
        return {doc["key"]: _from_document(doc) async for doc in cursor}

    async def put(self, definition: CustomFieldDefinition, *, created: bool) -> None:
        fields: Document = {
            "label": definition.label,
            "required": definition.required,
            "options": list(definition.options),
            "updated_at": utc_now(),
        }
        if created:
            document = {
                # The id is unique per tenant and key, so two concurrent definitions of the
                # same new key cannot both be inserted.
                "_id": f"{self.tenant_id}:{definition.key}",
                "tenant_id": self.tenant_id,
                "key": definition.key,
                "type": definition.type.value,
                "created_at": fields["updated_at"],
                **fields,
            }
            try:
                await self.collection.insert_one(document)
            except DuplicateKeyError as exc:
                raise Conflict(
                    f"custom field {definition.key} was just defined; reload and try again",
                    field="input.key",
                ) from exc
            return
        # The type is part of the condition: it never changes once defined.
        await self.collection.update_one(
            self.scoped({"key": definition.key, "type": definition.type.value}),
            {"$set": fields},
        )
