"""Kafka 3.9's CreateAcls, DescribeAcls and DeleteAcls v0 (Kafka 4.0 dropped them, KIP-896),
described as old_schemas.py describes the other old versions."""

from __future__ import annotations

from katka.protocol.message_schema import Field, Message
from katka.protocol.old_schemas import OldApi

# CreateAcls, DescribeAcls, DeleteAcls v0 (Kafka 3.9 and before): v1 without pattern types
# (every binding LITERAL).
_NULLABLE = "0+"
CREATE_ACLS = OldApi(
    30,
    range(0, 1),
    Message(
        "CreateAclsRequest",
        "0",
        "none",
        (
            Field(
                "creations",
                "[]",
                fields=(
                    Field("resource_type", "int8"),
                    Field("resource_name", "string"),
                    Field("principal", "string"),
                    Field("host", "string"),
                    Field("operation", "int8"),
                    Field("permission_type", "int8"),
                ),
            ),
        ),
    ),
    Message(
        "CreateAclsResponse",
        "0",
        "none",
        (
            Field("throttle_time", "int32"),
            Field(
                "results",
                "[]",
                fields=(
                    Field("error_code", "int16"),
                    Field("error_message", "string", nullable_versions=_NULLABLE),
                ),
            ),
        ),
    ),
    {"creations": "AclCreation"},
    {"results": "AclCreationResult"},
)

_ACL_FILTER = (
    Field("resource_type_filter", "int8"),
    Field("resource_name_filter", "string", nullable_versions=_NULLABLE),
    Field("principal_filter", "string", nullable_versions=_NULLABLE),
    Field("host_filter", "string", nullable_versions=_NULLABLE),
    Field("operation", "int8"),
    Field("permission_type", "int8"),
)

DESCRIBE_ACLS = OldApi(
    29,
    range(0, 1),
    Message("DescribeAclsRequest", "0", "none", _ACL_FILTER),
    Message(
        "DescribeAclsResponse",
        "0",
        "none",
        (
            Field("throttle_time", "int32"),
            Field("error_code", "int16"),
            Field("error_message", "string", nullable_versions=_NULLABLE),
            Field(
                "resources",
                "[]",
                fields=(
                    Field("resource_type", "int8"),
                    Field("resource_name", "string"),
                    Field(
                        "acls",
                        "[]",
                        fields=(
                            Field("principal", "string"),
                            Field("host", "string"),
                            Field("operation", "int8"),
                            Field("permission_type", "int8"),
                        ),
                    ),
                ),
            ),
        ),
    ),
    {},
    {"resources": "DescribeAclsResource", "acls": "AclDescription"},
)

DELETE_ACLS = OldApi(
    31,
    range(0, 1),
    Message("DeleteAclsRequest", "0", "none", (Field("filters", "[]", fields=_ACL_FILTER),)),
    Message(
        "DeleteAclsResponse",
        "0",
        "none",
        (
            Field("throttle_time", "int32"),
            Field(
                "filter_results",
                "[]",
                fields=(
                    Field("error_code", "int16"),
                    Field("error_message", "string", nullable_versions=_NULLABLE),
                    Field(
                        "matching_acls",
                        "[]",
                        fields=(
                            Field("error_code", "int16"),
                            Field("error_message", "string", nullable_versions=_NULLABLE),
                            Field("resource_type", "int8"),
                            Field("resource_name", "string"),
                            Field("principal", "string"),
                            Field("host", "string"),
                            Field("operation", "int8"),
                            Field("permission_type", "int8"),
                        ),
                    ),
                ),
            ),
        ),
    ),
    {"filters": "DeleteAclsFilter"},
    {"filter_results": "DeleteAclsFilterResult", "matching_acls": "DeleteAclsMatchingAcl"},
)


ACL_OLD_APIS: tuple[OldApi, ...] = (CREATE_ACLS, DESCRIBE_ACLS, DELETE_ACLS)
