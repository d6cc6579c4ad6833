"""`katka console --bootstrap-server`: katka's console and /metrics for any Kafka cluster."""
