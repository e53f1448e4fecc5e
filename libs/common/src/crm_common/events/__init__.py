"""Events between services: CloudEvents over Kafka, pydantic contracts, outbox and consumer."""
