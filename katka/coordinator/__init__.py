"""Groups (classic and KIP-848 consumer groups) and committed offsets.

Pure domain code per protocol (classic/, consumer/), offsets, records, history and effects,
plus the service (service.GroupCoordinator) that routes by group kind, appends and replays.
"""
