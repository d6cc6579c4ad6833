"""A listener's TLS server context from Kafka's ssl.* configs, with Python's ssl module.

Key stores: PEM (KIP-651) as a file (`ssl.keystore.location`, private key and certificate
chain in one file) or inline (`ssl.keystore.certificate.chain` and `ssl.keystore.key`), and
PKCS12 files when the `cryptography` package is installed (it converts them to PEM for ssl).
JKS is refused with a line saying so. Trust stores: PEM files or inline
`ssl.truststore.certificates`. `ssl.client.auth` none/requested/required maps to ssl's
CERT_NONE/CERT_OPTIONAL/CERT_REQUIRED.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from collections.abc import Callable

# config name -> value for one listener (its listener.name.<l>. prefix first)
ConfigLookup = Callable[[str], str | None]

_PROTOCOL_VERSIONS = {
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


class TlsConfigError(ValueError):
    """A listener's ssl.* configs cannot build a context; the message names the config,
    never a password or key."""


def server_context(lookup: ConfigLookup, listener: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    versions = [
        v.strip() for v in (lookup("ssl.enabled.protocols") or "TLSv1.2,TLSv1.3").split(",")
    ]
    known = sorted(_PROTOCOL_VERSIONS[v] for v in versions if v in _PROTOCOL_VERSIONS)
    if not known:
        raise TlsConfigError(f"ssl.enabled.protocols of listener {listener}: no TLSv1.2 or TLSv1.3")
    context.minimum_version, context.maximum_version = known[0], known[-1]
    _load_key_store(context, lookup, listener)
    _load_trust_store(context, lookup, listener)
    client_auth = (lookup("ssl.client.auth") or "none").lower()
    context.verify_mode = {
        "none": ssl.CERT_NONE,
        "requested": ssl.CERT_OPTIONAL,
        "required": ssl.CERT_REQUIRED,
    }[client_auth]
    return context


def _load_key_store(context: ssl.SSLContext, lookup: ConfigLookup, listener: str) -> None:
    store_type = (lookup("ssl.keystore.type") or "JKS").upper()
    chain, key = lookup("ssl.keystore.certificate.chain"), lookup("ssl.keystore.key")
    location = lookup("ssl.keystore.location")
    if chain and key:
        if store_type != "PEM":
            raise TlsConfigError(
                f"ssl.keystore.certificate.chain of listener {listener} needs ssl.keystore.type=PEM"
            )
        _load_pem_text(context, chain + "\n" + key, lookup("ssl.key.password"))
        return
    if not location:
        raise TlsConfigError(f"listener {listener} uses TLS but sets no ssl.keystore.location")
    try:
        if store_type == "PEM":
            context.load_cert_chain(location, location, password=lookup("ssl.key.password"))
        elif store_type == "PKCS12":
            _load_pem_text(
                context,
                _pkcs12_as_pem(location, lookup("ssl.keystore.password"), listener),
                None,
            )
        else:
            raise TlsConfigError(
                f"ssl.keystore.type={store_type} of listener {listener}: katka reads PEM and "
                "PKCS12 key stores (convert JKS with keytool -importkeystore -deststoretype PKCS12)"
            )
    except (OSError, ssl.SSLError) as error:
        raise TlsConfigError(
            f"ssl.keystore.location of listener {listener}: cannot load {location}: "
            f"{getattr(error, 'strerror', None) or error.__class__.__name__}"
        ) from None


def _load_pem_text(context: ssl.SSLContext, pem: str, password: str | None) -> None:
    """ssl loads key material from files only: a private temporary file, removed at once."""
    descriptor, path = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(pem)
        context.load_cert_chain(path, path, password=password)
    finally:
        os.unlink(path)


def _pkcs12_as_pem(location: str, password: str | None, listener: str) -> str:
    try:
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            NoEncryption,
            PrivateFormat,
            pkcs12,
        )
    except ImportError:
        raise TlsConfigError(
            f"ssl.keystore.type=PKCS12 of listener {listener} needs the cryptography package "
            "(pip install cryptography), or use ssl.keystore.type=PEM"
        ) from None
    with open(location, "rb") as file:
        key, certificate, chain = pkcs12.load_key_and_certificates(
            file.read(), password.encode() if password else None
        )
    if key is None or certificate is None:
        raise TlsConfigError(f"ssl.keystore.location of listener {listener}: no key in {location}")
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    for cert in (certificate, *chain):
        pem += cert.public_bytes(Encoding.PEM)
    return str(pem.decode())


def _load_trust_store(context: ssl.SSLContext, lookup: ConfigLookup, listener: str) -> None:
    inline = lookup("ssl.truststore.certificates")
    location = lookup("ssl.truststore.location")
    try:
        if inline:
            context.load_verify_locations(cadata=inline)
        elif location:
            store_type = (lookup("ssl.truststore.type") or "JKS").upper()
            if store_type == "PKCS12":
                raise TlsConfigError(
                    f"ssl.truststore.type=PKCS12 of listener {listener}: use a PEM trust store"
                )
            context.load_verify_locations(cafile=location)
    except (OSError, ssl.SSLError) as error:
        raise TlsConfigError(
            f"ssl.truststore of listener {listener}: cannot load: {error.__class__.__name__}"
        ) from None
