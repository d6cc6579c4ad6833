"""Certificate subjects as RFC 2253 names and Kafka's ssl.principal.mapping.rules."""

from __future__ import annotations

import pytest

from katka.security.jaas import parse_jaas_config, plain_users
from katka.security.principal_mapping import PrincipalMapper, distinguished_name

SUBJECT = (
    (("countryName", "US"),),
    (("organizationName", "acme, inc"),),
    (("organizationalUnitName", "eng"),),
    (("commonName", "Alice"),),
)


def test_a_subject_reads_most_specific_first_with_commas_escaped() -> None:
    assert distinguished_name(SUBJECT) == "CN=Alice,OU=eng,O=acme\\, inc,C=US"


def test_default_keeps_the_whole_distinguished_name() -> None:
    assert PrincipalMapper("DEFAULT").name("CN=Alice,OU=eng") == "CN=Alice,OU=eng"


def test_the_first_matching_rule_names_the_principal_with_its_case_flag() -> None:
    mapper = PrincipalMapper(
        "RULE:^CN=([^,]+),OU=ops,.*$/ops-$1/, RULE:^CN=([^,]+),OU=eng,.*$/$1/L, DEFAULT"
    )
    assert mapper.name("CN=Alice,OU=eng,O=acme,C=US") == "alice"
    assert mapper.name("CN=Bob,OU=ops,O=acme,C=US") == "ops-Bob"
    assert mapper.name("CN=Carol,OU=hr") == "CN=Carol,OU=hr"


def test_no_matching_rule_is_an_authentication_failure() -> None:
    with pytest.raises(ValueError, match="No rules apply"):
        PrincipalMapper("RULE:^CN=(.*),OU=eng$/$1/U").name("CN=Bob,OU=ops")


def test_a_malformed_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="ssl.principal.mapping.rules"):
        PrincipalMapper("RULE:missing-slashes")


def test_plain_users_come_from_the_jaas_user_options() -> None:
    entry = parse_jaas_config(
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        'username="admin" password="admin-secret" user_admin="admin-secret" '
        'user_alice="a \\"quoted\\" secret";'
    )
    assert plain_users(entry) == {"admin": "admin-secret", "alice": 'a "quoted" secret'}


def test_a_jaas_error_never_repeats_the_value() -> None:
    with pytest.raises(ValueError) as refused:
        parse_jaas_config('PlainLoginModule required user_alice="hunter2"')  # no semicolon
    assert "hunter2" not in str(refused.value)
