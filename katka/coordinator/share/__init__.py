"""Share groups (KIP-932): membership, share-partition state, durable share state."""
