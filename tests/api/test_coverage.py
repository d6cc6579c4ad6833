"""Every API katka answers has request-in/response-out tests at its lowest and highest version."""

from __future__ import annotations

from katka import api
from tests.api import (  # noqa: F401  (importing them registers what they cover)
    test_acl_apis,
    test_admin_apis,
    test_group_apis,
    test_log_apis,
    test_security_apis,
    test_share_apis,
    test_topic_apis,
    test_transaction_apis,
)
from tests.api.harness import COVERED


def test_every_api_has_request_in_response_out_tests() -> None:
    assert {module.__name__ for module in api.ALL} - COVERED == set()
