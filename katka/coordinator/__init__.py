"""Consumer groups (the classic protocol) and committed offsets.

Pure domain code (state, group, member, classic, offsets, records, consumer_protocol, history)
plus one asyncio facade (service.GroupCoordinator). See each module's docstring.
"""
