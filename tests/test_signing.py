"""Zenoti's signature: a fixed vector, tampering, tolerance, and an independent HMAC."""

from __future__ import annotations

import hashlib

import pytest

from emulator.delivery import signing

BODY = b'{"id":"66a26696c7314f7815db6a1f","event_type":"AppointmentGroup.Created"}'
SECRET = "whsec_test_secret"
#: computed outside Python: printf '%s' "$BODY" | openssl dgst -sha256 -hmac whsec_test_secret
VECTOR_HEX = "c850a1c8b859ba55bc38ecc7784826351b19a871d69ee939eae13613673f2fe2"
VECTOR_HEADER = "sha256 =" + "-".join(VECTOR_HEX[i : i + 2].upper() for i in range(0, 64, 2))


def independent_hmac_sha256(key: bytes, message: bytes) -> bytes:
    """RFC 2104 by hand, without the hmac module the code under test uses."""
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(k ^ 0x36 for k in key) + message).digest()
    return hashlib.sha256(bytes(k ^ 0x5C for k in key) + inner).digest()


def dotnet_bitconverter(mac: bytes) -> str:
    """How .NET's BitConverter.ToString prints bytes: 'AB-12-...'."""
    return "-".join(format(b, "02X") for b in mac)


def test_signature_matches_the_fixed_vector_in_zenotis_dashed_form() -> None:
    assert signing.sign(BODY, SECRET) == VECTOR_HEADER
    assert VECTOR_HEADER.startswith("sha256 =C8-50-A1-")


def test_signature_matches_an_independent_implementation() -> None:
    for body, secret in [(BODY, SECRET), (b"", "k"), ("caf\u00e9".encode(), "s" * 100), (b"x" * 5000, "\u00e9t\u00e9")]:
        expected = "sha256 =" + dotnet_bitconverter(independent_hmac_sha256(secret.encode(), body))
        assert signing.sign(body, secret) == expected


def test_hex_variant_is_lowercase_without_space_or_dashes() -> None:
    assert signing.sign(BODY, SECRET, signature_format="hex") == "sha256=" + VECTOR_HEX


def test_unknown_signature_format_is_refused() -> None:
    with pytest.raises(ValueError, match="dashed, hex"):
        signing.sign(BODY, SECRET, signature_format="base64")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "header",
    [
        VECTOR_HEADER,
        VECTOR_HEADER.lower(),
        VECTOR_HEADER.replace(" =", "="),
        VECTOR_HEADER.replace("sha256 =", "SHA256 = "),
        "sha256=" + VECTOR_HEX,
        "sha256=" + VECTOR_HEX.upper(),
        VECTOR_HEX,
        "sha256 =" + ":".join(VECTOR_HEX[i : i + 2] for i in range(0, 64, 2)),
        "  " + VECTOR_HEADER + "  ",
    ],
)
def test_verify_tolerates_spacing_case_and_both_formats(header: str) -> None:
    assert signing.verify(BODY, header, SECRET)


def test_verify_accepts_str_bodies_as_utf8() -> None:
    assert signing.verify(BODY.decode(), VECTOR_HEADER, SECRET)


@pytest.mark.parametrize(
    ("body", "header", "secret"),
    [
        (BODY + b" ", VECTOR_HEADER, SECRET),  # one byte more
        (BODY.replace(b"Created", b"Updated"), VECTOR_HEADER, SECRET),
        (BODY, VECTOR_HEADER, SECRET + "x"),
        (BODY, VECTOR_HEADER[:-1] + ("0" if VECTOR_HEADER[-1] != "0" else "1"), SECRET),
        (BODY, VECTOR_HEADER[:-3], SECRET),  # a byte short
        (BODY, "sha256 =not-hex-at-all", SECRET),
        (BODY, "", SECRET),
        (BODY, None, SECRET),
    ],
)
def test_verify_rejects_tampering_and_garbage(body: bytes, header: str | None, secret: str) -> None:
    assert not signing.verify(body, header, secret)


def test_re_serialised_json_does_not_verify() -> None:
    """Receivers must verify the raw bytes, not json.dumps(json.loads(body))."""
    import json

    pretty = json.dumps(json.loads(BODY), indent=2).encode()
    assert not signing.verify(pretty, VECTOR_HEADER, SECRET)
