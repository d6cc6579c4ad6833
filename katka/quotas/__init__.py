"""Client quotas (KIP-13, KIP-124, KIP-546): what is configured (store) and how a client over
its rate is throttled (throttle)."""

from katka.quotas.store import ClientQuotaStore, QuotaEntity
from katka.quotas.throttle import QuotaManager

__all__ = ["ClientQuotaStore", "QuotaEntity", "QuotaManager"]
