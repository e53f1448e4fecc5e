"""Customer service: the unified customer profile (统一客户档案)."""
