"""The development CA and serving certificate: chain, names, algorithms, validity."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from certs.authority import create_ca, issue_serving_certificate, service_dns_names


def _sans(certificate: x509.Certificate) -> x509.SubjectAlternativeName:
    return certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value


def test_service_dns_names_cover_every_in_cluster_form() -> None:
    assert service_dns_names("hook", "ops") == [
        "hook",
        "hook.ops",
        "hook.ops.svc",
        "hook.ops.svc.cluster.local",
        "localhost",
    ]


def test_serving_certificate_chains_to_the_ca_for_each_name() -> None:
    ca = create_ca("test CA", days=30)
    names = service_dns_names("hook", "ops")
    serving = issue_serving_certificate(ca, names, ["127.0.0.1"], days=30)
    for name in names:
        verifier = (
            PolicyBuilder().store(Store([ca.certificate])).build_server_verifier(x509.DNSName(name))
        )
        chain = verifier.verify(serving.certificate, [])
        assert chain[-1] == ca.certificate
    ip_verifier = (
        PolicyBuilder()
        .store(Store([ca.certificate]))
        .build_server_verifier(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    )
    ip_verifier.verify(serving.certificate, [])


def test_serving_certificate_is_rejected_for_a_name_it_does_not_carry() -> None:
    ca = create_ca("test CA", days=30)
    serving = issue_serving_certificate(ca, ["hook.ops.svc"], [], days=30)
    verifier = (
        PolicyBuilder()
        .store(Store([ca.certificate]))
        .build_server_verifier(x509.DNSName("other.ops.svc"))
    )
    with pytest.raises(VerificationError):
        verifier.verify(serving.certificate, [])


def test_certificate_from_another_ca_does_not_verify() -> None:
    serving = issue_serving_certificate(create_ca("a", days=30), ["hook"], [], days=30)
    verifier = (
        PolicyBuilder()
        .store(Store([create_ca("b", days=30).certificate]))
        .build_server_verifier(x509.DNSName("hook"))
    )
    with pytest.raises(VerificationError):
        verifier.verify(serving.certificate, [])


def test_keys_are_ecdsa_p256_and_usages_are_restricted() -> None:
    ca = create_ca("test CA", days=30)
    serving = issue_serving_certificate(ca, ["hook"], ["127.0.0.1"], days=30)
    for pair in (ca, serving):
        assert isinstance(pair.key, ec.EllipticCurvePrivateKey)
        assert pair.key.curve.name == "secp256r1"
    ca_constraints = ca.certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert ca_constraints.value.ca is True
    assert ca_constraints.value.path_length == 0
    leaf_constraints = serving.certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert leaf_constraints.value.ca is False
    usage = serving.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert list(usage.value) == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]
    assert _sans(serving.certificate).get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1")
    ]


def test_validity_is_back_dated_and_bounded_by_the_ca() -> None:
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    ca = create_ca("test CA", days=10, now=now)
    serving = issue_serving_certificate(ca, ["hook"], [], days=365, now=now)
    assert serving.certificate.not_valid_before_utc < now
    assert serving.certificate.not_valid_after_utc == ca.certificate.not_valid_after_utc
    assert ca.certificate.not_valid_after_utc == now + timedelta(days=10)


@pytest.mark.parametrize("days", [0, -3])
def test_non_positive_validity_is_rejected(days: int) -> None:
    with pytest.raises(ValueError, match="at least 1 day"):
        create_ca("test CA", days=days)


def test_serving_certificate_needs_a_name() -> None:
    with pytest.raises(ValueError, match="at least one DNS name"):
        issue_serving_certificate(create_ca("test CA", days=1), [], ["127.0.0.1"], days=1)
