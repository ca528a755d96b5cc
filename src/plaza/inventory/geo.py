"""Validators for places: ISO 3166-1 alpha-2 countries and IANA time zones.

The country list is embedded (no dependency); a test checks it against tzdata's
``iso3166.tab`` where the system has one. Time zones are checked against the zoneinfo
database, by exact name, so ``"../x"`` or a directory name like ``"America"`` never pass.
"""

from __future__ import annotations

import zoneinfo
from functools import lru_cache
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

_ALPHA_2 = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
"""
COUNTRIES: frozenset[str] = frozenset(_ALPHA_2.split())


def check_country(code: str) -> str:
    if code not in COUNTRIES:
        raise ValueError(f"unknown ISO 3166-1 alpha-2 country code {code!r}")
    return code


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_timezone(name: str) -> str:
    if name not in _zones():
        raise ValueError(f"unknown IANA time zone {name!r}")
    return name


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


# Pydantic field types: a validated country code (case-insensitive in, upper-case out) and
# a validated IANA zone name.
CountryCode = Annotated[str, BeforeValidator(_upper), AfterValidator(check_country)]
TimeZoneName = Annotated[str, AfterValidator(check_timezone)]
