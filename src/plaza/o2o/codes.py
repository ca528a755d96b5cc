"""What a phone or an RFID reader scans off a garment, turned into a GTIN (+ serial).

Three inputs are understood:

- an RFID EPC in SGTIN-96 binary encoding, as 24 hex characters (``3074257BF7194E4000001A85``),
  decoded with ``epcpy`` (GS1 EPC Tag Data Standard); the pure-identity URI
  ``urn:epc:id:sgtin:0614141.812345.6789`` is accepted too;
- a GS1 Digital Link URI (``https://any.host/01/09506000134352/21/ABC123?17=201225``), parsed
  with ``biip``; a path without host (``/01/…``) and the convenience short names ``gtin``,
  ``ser``, ``lot``, ``cpv`` of early Digital Link drafts are rewritten to numeric AIs first;
- a plain GTIN-8/12/13/14 (a printed barcode).

Every fault is a 422 problem naming what is wrong, so a reader that garbles a tag gets a
clear answer instead of a "not found".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, urlsplit, urlunsplit

from biip import ParseError
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from epcpy.epc_schemes.sgtin import SGTIN, SGTINFilterValue

from plaza.catalog.gtin import normalise_gtin
from plaza.errors import ProblemError, problem_type

EPC_INVALID = problem_type(
    "epc-invalid",
    "Invalid EPC",
    422,
    "The RFID tag's EPC is not an SGTIN-96 (24 hex characters, header 0x30) that decodes "
    "to a valid GTIN and serial. `detail` says what is wrong.",
)
DIGITAL_LINK_INVALID = problem_type(
    "digital-link-invalid",
    "Invalid GS1 Digital Link",
    422,
    "The value is not a GS1 Digital Link URI with a valid GTIN (`/01/{gtin}`, optional "
    "`/21/{serial}`), or the GTIN's check digit is wrong. `detail` says what is wrong.",
)
CODE_INVALID = problem_type(
    "code-invalid",
    "Unrecognised code",
    422,
    "A scanned code is an SGTIN-96 EPC in hex, an EPC URI (`urn:epc:id:sgtin:…`), a GS1 "
    "Digital Link URI, or a GTIN-8/12/13/14; this one is none of those.",
)

SGTIN96_HEADER = "30"
HEX_RE = re.compile(r"^[0-9A-Fa-f]+$")
EPC_URI_PREFIX = "urn:epc:id:sgtin:"
MAX_CODE_LENGTH = 512
# Short names from the 2018 Digital Link drafts, still printed on some labels.
SHORT_NAMES = {"gtin": "01", "ser": "21", "lot": "10", "cpv": "22"}

CodeKind = Literal["epc", "digital_link", "gtin"]


@dataclass(frozen=True)
class ScannedCode:
    """A scanned identifier: always a GTIN-14, a serial when the code carries one."""

    kind: CodeKind
    gtin: str
    serial: str | None
    raw: str
    epc_uri: str | None = None  # urn:epc:id:sgtin:… for RFID tags


def _epc_invalid(detail: str, value: str) -> ProblemError:
    return ProblemError(EPC_INVALID, detail, code=value[:100])


def _from_sgtin(epc: SGTIN, raw: str) -> ScannedCode:
    try:
        gtin = normalise_gtin(epc.gtin())
    except ValueError as exc:  # pragma: no cover - epcpy computes the check digit itself
        raise _epc_invalid(f"the EPC's GTIN is invalid: {exc}", raw) from exc
    return ScannedCode("epc", gtin, epc._serial, raw, epc.epc_uri)


def parse_epc(value: str) -> ScannedCode:
    """An SGTIN-96 EPC in hex (24 characters) → GTIN-14 + serial, or 422 ``epc-invalid``."""
    raw = value.strip()
    if len(raw) != 24 or not HEX_RE.match(raw):
        raise _epc_invalid("an SGTIN-96 EPC is exactly 24 hex characters", raw)
    if raw[:2] != SGTIN96_HEADER:
        raise _epc_invalid(
            f"EPC header 0x{raw[:2].upper()} is not SGTIN-96 (0x30): not a trade item tag", raw
        )
    try:
        epc = SGTIN.from_hex(raw.upper())
    except Exception as exc:  # epcpy raises ConvertException, KeyError, ValueError…
        raise _epc_invalid(f"the EPC does not decode as SGTIN-96: {exc}", raw) from exc
    return _from_sgtin(epc, raw)


def parse_epc_uri(value: str) -> ScannedCode:
    """``urn:epc:id:sgtin:CompanyPrefix.ItemRef.Serial`` → GTIN-14 + serial."""
    raw = value.strip()
    try:
        epc = SGTIN(raw)
    except Exception as exc:
        raise _epc_invalid(f"not a valid SGTIN EPC URI: {exc}", raw) from exc
    return _from_sgtin(epc, raw)


def _dl_invalid(detail: str, value: str) -> ProblemError:
    return ProblemError(DIGITAL_LINK_INVALID, detail, uri=value[:MAX_CODE_LENGTH])


def _canonical_input(value: str) -> str:
    """Give biip an absolute URI with numeric AIs: a bare path gets a placeholder host and
    the draft short names (``/gtin/…/ser/…``) become ``/01/…/21/…``."""
    if value.startswith("/"):
        value = "https://id.invalid" + value
    parts = urlsplit(value)
    segments = parts.path.split("/")
    # Only a name followed by a value is a key (a serial may itself read "lot").
    segments = [
        SHORT_NAMES.get(seg, seg) if i + 1 < len(segments) else seg
        for i, seg in enumerate(segments)
    ]
    return urlunsplit(parts._replace(path="/".join(segments)))


def parse_digital_link(value: str) -> ScannedCode:
    """A GS1 Digital Link URI → GTIN-14 (+ serial), or 422 ``digital-link-invalid``."""
    raw = value.strip()
    if len(raw) > MAX_CODE_LENGTH:
        raise _dl_invalid(f"a Digital Link is at most {MAX_CODE_LENGTH} characters", raw)
    try:
        dl = GS1DigitalLinkURI.parse(_canonical_input(raw))
    except ParseError as exc:
        raise _dl_invalid(str(exc), raw) from exc
    except ValueError as exc:  # urlsplit on a malformed authority
        raise _dl_invalid(f"not a URI: {exc}", raw) from exc
    by_ai = {es.ai.ai: es for es in dl.element_strings}
    primary = by_ai.get("01")
    if primary is None:
        raise _dl_invalid("the Digital Link has no GTIN (`/01/{gtin}`): not a trade item", raw)
    if primary.gtin is None:
        raise _dl_invalid(primary.gtin_error or "the GTIN is invalid", raw)
    try:
        gtin = normalise_gtin(primary.value)
    except ValueError as exc:  # pragma: no cover - biip validated it already
        raise _dl_invalid(str(exc), raw) from exc
    serial = by_ai["21"].value if "21" in by_ai else None
    return ScannedCode("digital_link", gtin, serial, raw)


def parse_gtin(value: str, *, problem: str = "gtin") -> ScannedCode:
    """A plain GTIN → GTIN-14. A bad check digit is 422 ``digital-link-invalid`` when the
    GTIN came from a Digital Link path (``problem="digital_link"``), else ``code-invalid``."""
    raw = value.strip()
    try:
        gtin = normalise_gtin(raw)
    except ValueError as exc:
        if problem == "digital_link":
            raise _dl_invalid(str(exc), raw) from exc
        raise ProblemError(CODE_INVALID, f"not a valid GTIN: {exc}", code=raw[:100]) from exc
    return ScannedCode("gtin", gtin, None, raw)


def parse_code(value: str) -> ScannedCode:
    """Recognise what was scanned and decode it (see the module docstring)."""
    raw = value.strip()
    if not raw:
        raise ProblemError(CODE_INVALID, "the code is empty")
    if len(raw) > MAX_CODE_LENGTH:
        raise ProblemError(CODE_INVALID, f"a code is at most {MAX_CODE_LENGTH} characters")
    lowered = raw.lower()
    if lowered.startswith(("http://", "https://", "/")):
        return parse_digital_link(raw)
    if lowered.startswith(EPC_URI_PREFIX):
        return parse_epc_uri(raw)
    if raw.isdigit() and len(raw) <= 14:
        return parse_gtin(raw)
    if HEX_RE.match(raw):
        # Readers report EPCs as hex; anything hex-looking that is not a GTIN is judged as
        # an EPC so the answer explains the tag fault (length, header) precisely.
        return parse_epc(raw)
    raise ProblemError(
        CODE_INVALID,
        "expected an SGTIN-96 EPC (24 hex characters), a GS1 Digital Link URI or a GTIN",
        code=raw[:100],
    )


# --- building codes ----------------------------------------------------------------------


def digital_link(base: str, gtin: str, serial: str | None = None) -> str:
    """The canonical Digital Link of a GTIN (14 digits) on ``base`` (no trailing slash)."""
    uri = f"{base.rstrip('/')}/01/{gtin}"
    if serial:
        uri += "/21/" + quote(serial, safe="")
    return uri


def sgtin96_hex(gtin: str, serial: int, company_prefix_length: int = 7) -> str:
    """Encode an SGTIN-96 EPC (filter 1, point-of-sale item) for a GTIN and a numeric
    serial: what a store's tag printer writes; the demo and tests use it."""
    epc = SGTIN.from_gtin_plus_serial(normalise_gtin(gtin), str(serial), company_prefix_length)
    return str(
        epc.hex(
            binary_coding_scheme=SGTIN.BinaryCodingScheme.SGTIN_96,
            filter_value=SGTINFilterValue.POS_ITEM,
        )
    )
