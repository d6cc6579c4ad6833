"""KIP-848 consumer groups: ConsumerGroupHeartbeat, reconciliation and server-side assignors."""
