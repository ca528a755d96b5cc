"""The embedded ISO 3166-1 list and the time-zone check."""

from __future__ import annotations

from pathlib import Path

import pytest

from plaza.inventory.geo import COUNTRIES, check_country, check_timezone

TZDATA_ISO3166 = Path("/usr/share/zoneinfo/iso3166.tab")


def test_country_list_has_every_assigned_code():
    assert len(COUNTRIES) == 249
    assert all(len(c) == 2 and c.isupper() for c in COUNTRIES)


@pytest.mark.skipif(not TZDATA_ISO3166.exists(), reason="no tzdata iso3166.tab here")
def test_country_list_matches_tzdata():
    codes = {
        line.split("\t", 1)[0]
        for line in TZDATA_ISO3166.read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert codes == COUNTRIES


@pytest.mark.parametrize("code", ["FR", "GB", "US", "JP", "AX"])
def test_known_countries(code):
    assert check_country(code) == code


@pytest.mark.parametrize("code", ["XX", "UK", "EU", "FRA", "", "fr"])
def test_unknown_countries(code):
    with pytest.raises(ValueError):
        check_country(code)


@pytest.mark.parametrize("name", ["UTC", "Europe/Paris", "America/Argentina/Buenos_Aires"])
def test_known_zones(name):
    assert check_timezone(name) == name


@pytest.mark.parametrize("name", ["Mars/Olympus", "America", "europe/paris", "../etc", ""])
def test_unknown_zones(name):
    with pytest.raises(ValueError):
        check_timezone(name)
