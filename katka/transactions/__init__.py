"""The transaction coordinator (KIP-98, KIP-447): `__transaction_state`, two-phase commit,
markers, timeouts and fencing. Pure logic in coordinator.py; asyncio only in service.py."""
