"""What every service that works with customers shares: the local copy of customers kept from
``crm.customer.v1`` (`copies`) and the re-pointing of records after a merge (`repoint`)."""
