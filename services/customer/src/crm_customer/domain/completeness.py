"""Data completeness (资料完整度): which of the key profile items a customer still lacks. Pure.

Six items count, each equally; a missing one is shown as 待补充 (to be completed):

- ``INDUSTRY``: the industry;
- ``REGION``: the province (the city is optional);
- ``ADDRESS``: the registered address;
- ``SOURCE``: how the customer found us (source channel);
- ``CONTACT_PHONE``: a primary contact with a phone number;
- ``SIZE``: the company size (employees or a revenue band).

``completeness`` is the share present, 0-100 (rounded down, so 100 means nothing missing).
Stored on the customer document with every write, so lists filter and sort on it.
"""

from __future__ import annotations

from enum import StrEnum

from crm_customer.domain.customer import Customer

PENDING_LABEL = "待补充"


class CompletenessItem(StrEnum):
    INDUSTRY = "INDUSTRY"
    REGION = "REGION"
    ADDRESS = "ADDRESS"
    SOURCE = "SOURCE"
    CONTACT_PHONE = "CONTACT_PHONE"
    SIZE = "SIZE"


def missing_items(customer: Customer) -> tuple[CompletenessItem, ...]:
    p = customer.profile
    primary = next((c for c in customer.contacts if c.is_primary), None)
    present = {
        CompletenessItem.INDUSTRY: bool(p.industry),
        CompletenessItem.REGION: p.region is not None and bool(p.region.province),
        CompletenessItem.ADDRESS: bool(p.address),
        CompletenessItem.SOURCE: p.source is not None,
        CompletenessItem.CONTACT_PHONE: primary is not None and bool(primary.phone),
        CompletenessItem.SIZE: p.size is not None
        and (p.size.employees is not None or p.size.revenue_band is not None),
    }
    return tuple(item for item in CompletenessItem if not present[item])


def completeness(customer: Customer) -> int:
    total = len(CompletenessItem)
    return (total - len(missing_items(customer))) * 100 // total
