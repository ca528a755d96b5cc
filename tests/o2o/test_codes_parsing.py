"""Scanned codes: SGTIN-96 EPCs (GS1 EPC Tag Data Standard vectors), EPC URIs, GS1 Digital
Links (GS1 Digital Link standard examples and the EPCIS 2.0 fixtures) and GTINs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from epcpy.epc_schemes.sgtin import SGTIN

from plaza.errors import ProblemError
from plaza.o2o import codes

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "epcis" / "examples"


# --- SGTIN-96 --------------------------------------------------------------------------------

# EPC Tag Data Standard, SGTIN-96 example: urn:epc:tag:sgtin-96:3.0614141.812345.6789.
TDS_HEX = "3074257BF7194E4000001A85"


def test_tds_sgtin96_example_decodes_to_gtin_and_serial():
    c = codes.parse_epc(TDS_HEX)
    assert c.kind == "epc"
    assert c.gtin == "80614141123458"  # indicator 8 leads the GTIN-14
    assert c.serial == "6789"
    assert c.epc_uri == "urn:epc:id:sgtin:0614141.812345.6789"


def test_lower_case_hex_and_other_filter_values_decode_the_same():
    assert codes.parse_epc(TDS_HEX.lower()).gtin == "80614141123458"
    # filter value 1 (point-of-sale item) instead of 3: same identity
    assert codes.parse_epc("3034257BF7194E4000001A85").serial == "6789"


def test_encoding_round_trips():
    tag = codes.sgtin96_hex("80614141123458", 6789)
    assert tag == "3034257BF7194E4000001A85"
    assert codes.parse_code(tag).gtin == "80614141123458"


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("3074257BF7194E4000001A8", "24 hex"),  # too short
        ("3074257BF7194E4000001A8500", "24 hex"),  # SGTIN-198-ish length
        ("3074257BF7194E4000001AZZ", "24 hex"),  # not hex
        ("3574257BF7194E4000001A85", "0x35"),  # GID-96: not a trade item
        ("3674257BF7194E4000001A85", "0x36"),  # SGTIN-198 header on 96 bits
        ("E280689400005003C1A1B2C3", "0xE2"),  # a TID, not an EPC
        ("307C257BF7194E4000001A85", "decode"),  # partition value 7: invalid
    ],
)
def test_malformed_epcs_are_epc_invalid(value, why):
    with pytest.raises(ProblemError) as exc:
        codes.parse_epc(value)
    assert exc.value.kind is codes.EPC_INVALID
    assert exc.value.status == 422
    assert why in exc.value.detail


def test_hex_looking_scans_are_judged_as_epcs():
    with pytest.raises(ProblemError) as exc:
        codes.parse_code("3574257BF7194E4000001A85")
    assert exc.value.kind is codes.EPC_INVALID


def test_epc_uri():
    c = codes.parse_code("urn:epc:id:sgtin:0614141.812345.6789")
    assert (c.gtin, c.serial) == ("80614141123458", "6789")
    with pytest.raises(ProblemError) as exc:
        codes.parse_code("urn:epc:id:sgtin:0614141.812345")
    assert exc.value.kind is codes.EPC_INVALID


# --- GS1 Digital Link -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "gtin", "serial"),
    [
        ("https://id.gs1.org/01/09506000134352/21/ABC123?17=201225", "09506000134352", "ABC123"),
        ("https://example.com/01/09506000134352", "09506000134352", None),
        ("https://example.com/shop/01/9506000134352/10/LOT7/21/x%2Fy", "09506000134352", "x/y"),
        ("https://example.com/01/09506000134352?linkType=gs1:pip", "09506000134352", None),
        ("/01/09506000134352/21/42", "09506000134352", "42"),  # no host: a relative link
        ("https://example.com/gtin/09506000134352/ser/7", "09506000134352", "7"),  # short names
    ],
)
def test_digital_links(uri, gtin, serial):
    c = codes.parse_code(uri)
    assert (c.kind, c.gtin, c.serial) == ("digital_link", gtin, serial)


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("https://example.com/01/09506000134353", "check digit"),
        ("https://example.com/00/106141412345678908", "no GTIN"),  # an SSCC, not an item
        ("https://example.com/products/42", "primary identifier"),
        ("https://example.com/01/12345", ""),
    ],
)
def test_malformed_digital_links(uri, why):
    with pytest.raises(ProblemError) as exc:
        codes.parse_code(uri)
    assert exc.value.kind is codes.DIGITAL_LINK_INVALID
    assert why in exc.value.detail


def test_plain_gtins_and_garbage():
    assert codes.parse_code("9506000134352").gtin == "09506000134352"
    for bad in ("9506000134353", "hello world", ""):
        with pytest.raises(ProblemError) as exc:
            codes.parse_code(bad)
        assert exc.value.kind is codes.CODE_INVALID


def test_digital_link_builder():
    assert codes.digital_link("https://plaza.test/", "09506000134352", "a/b") == (
        "https://plaza.test/01/09506000134352/21/a%2Fb"
    )


# --- the GS1 EPCIS 2.0 examples -------------------------------------------------------------


def _fixture_texts() -> list[str]:
    if not FIXTURES.is_dir():
        pytest.skip(reason="../shared/fixtures (GS1 EPCIS examples) is absent in this checkout")
    return [p.read_text() for p in sorted(FIXTURES.rglob("*.json*"))]


def test_every_digital_link_of_the_epcis_examples_parses():
    links = sorted(
        {m for t in _fixture_texts() for m in re.findall(r"https://id\.gs1\.org/01/[^\"\s]+", t)}
    )
    assert links, "the EPCIS examples carry Digital Link identifiers"
    for link in links:
        c = codes.parse_digital_link(link)
        assert len(c.gtin) == 14 and link.startswith(f"https://id.gs1.org/01/{c.gtin}")
        if "/21/" in link:
            assert c.serial == link.split("/21/")[1].split("/")[0].split("?")[0]


def test_every_sgtin_of_the_epcis_examples_round_trips_through_sgtin96():
    uris = sorted(
        {
            m
            for t in _fixture_texts()
            for m in re.findall(r"urn:epc:id:sgtin:[0-9]+\.[0-9]+\.\w+", t)
        }
    )
    assert uris, "the EPCIS examples carry SGTIN EPCs"
    checked = 0
    for uri in uris:
        c = codes.parse_epc_uri(uri)
        prefix, _, serial = uri.removeprefix("urn:epc:id:sgtin:").partition(".")
        serial = serial.split(".")[1]
        if not serial.isdigit() or int(serial) >= 2**38 or serial != str(int(serial)):
            continue  # alphanumeric serials need SGTIN-198, not a 96-bit tag
        tag = codes.sgtin96_hex(c.gtin, int(serial), len(prefix))
        back = codes.parse_epc(tag)
        assert (back.gtin, back.serial, back.epc_uri) == (c.gtin, serial, uri)
        assert SGTIN(uri).gtin() == c.gtin
        checked += 1
    assert checked > 0
