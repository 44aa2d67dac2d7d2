"""Bytes to text for articles whose encoding nobody wrote down.

In order: a byte-order mark (UTF-8, UTF-16, UTF-32), strict UTF-8, UTF-16 without a mark
(recognised by its NUL bytes), UTF-8 with a few bad bytes (replaced by U+FFFD: one bad byte
must not turn every accent of a UTF-8 file into mojibake), then a guess. The guess weighs
charset-normalizer's best candidate against Windows-1252 with a preference for French:
detectors often take French cp1252 text (’ « » € œ) for cp1250 or mac_latin2 and index
"ŕ la tęte". Latin-1 is the same as cp1252 for every printable character, so cp1252 is read
first and latin-1 only when the bytes are not cp1252. A guess that is not clear-cut is kept,
and reported with its name.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from .walk import LoadError

BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
FRENCH = set("àâæçéèêëîïôœùûüÿÀÂÆÇÉÈÊËÎÏÔŒÙÛÜŸ«»‘’“”€…–—°\u00a0")
"""Characters of French text outside ASCII."""
WESTERN = set("áãäåìíñòóõöøúýßšžÁÃÄÅÌÍÑÒÓÕÖØÚÝŠŽ¿¡ªº·")
"""Other letters and signs of western European languages that cp1252 encodes."""
CLEAR = 0.9
"""cp1252 is read when at least this share of its non-ASCII characters are plausible."""


@dataclass
class Decoded:
    text: str
    encoding: str
    guessed: bool = False
    """True when the encoding is a guess that may be wrong (say so to the user)."""
    replaced: int = 0
    """Invalid bytes of a UTF-8 text replaced by U+FFFD (say so to the user)."""


BAD_BYTE = re.compile("[\udc80-\udcff]")
"""An undecodable byte, as ``surrogateescape`` keeps it."""


def decode(data: bytes) -> str:
    """The text of ``data`` (see ``decode_bytes``)."""
    return decode_bytes(data).text


def decode_bytes(data: bytes) -> Decoded:
    """Decode ``data``; binary data raises ``LoadError``."""
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                return Decoded(data.decode(encoding), encoding.removesuffix("-sig"))
            except UnicodeDecodeError as err:
                raise LoadError(f"invalid {encoding} text ({err.reason})") from None
    head = data[:8192]
    if b"\x00" in head:
        utf16 = _utf16_without_bom(data)
        if utf16 is not None:
            return utf16
        raise LoadError("binary content (NUL bytes), not text")
    try:
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    return _mostly_utf8(data) or _guess(data)


def _mostly_utf8(data: bytes) -> Decoded | None:
    """UTF-8 text with a few invalid bytes: at least twice as many valid multi-byte
    characters as bad bytes (text in a one-byte encoding has next to no valid sequences)."""
    text = data.decode("utf-8", "surrogateescape")
    bad = len(BAD_BYTE.findall(text))
    good = sum(ord(ch) > 127 for ch in text) - bad
    if good < 2 * bad:
        return None
    return Decoded(BAD_BYTE.sub("\ufffd", text), "utf-8", replaced=bad)


def _utf16_without_bom(data: bytes) -> Decoded | None:
    """UTF-16 text with no byte-order mark: NULs on one side of nearly every ASCII letter."""
    head = data[:4096]
    if len(data) % 2 or len(head) < 8:
        return None
    even, odd = head[0::2].count(0), head[1::2].count(0)
    half = len(head) // 2
    if odd > 0.4 * half and even < 0.05 * half:
        encoding = "utf-16-le"
    elif even > 0.4 * half and odd < 0.05 * half:
        encoding = "utf-16-be"
    else:
        return None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    if sum(not (ch.isprintable() or ch in "\n\r\t") for ch in text) > len(text) // 100:
        return None
    return Decoded(text, encoding, guessed=True)


def _plausible(text: str) -> tuple[float, float]:
    """(share of non-ASCII characters that belong to western European text, the same share
    with French ones counting fully and the others 3/4): how much a decoding reads like it."""
    others = [ch for ch in text if ord(ch) > 127]
    if not others:
        return 1.0, 1.0
    french = sum(ch in FRENCH for ch in others)
    western = sum(ch in WESTERN for ch in others)
    return (french + western) / len(others), (french + 0.75 * western) / len(others)


def _guess(data: bytes) -> Decoded:
    try:
        western = Decoded(data.decode("cp1252"), "cp1252")
    except UnicodeDecodeError:
        western = Decoded(data.decode("latin-1"), "latin-1")
    from charset_normalizer import from_bytes

    detected = None
    for match in from_bytes(data):
        if not match.encoding.startswith(("utf_16", "utf_32")):  # those need NULs or a mark
            detected = Decoded(str(match), match.encoding)
            break
    coverage, score = _plausible(western.text)
    if detected is None or (coverage >= CLEAR and score >= _plausible(detected.text)[1]):
        chosen = western
    else:
        chosen = detected
    agree = detected is not None and detected.text == western.text
    clear = (
        chosen is western
        and coverage == 1.0
        and sum(ord(ch) > 127 for ch in western.text) >= 3
        and (detected is None or score > _plausible(detected.text)[1])
    )
    chosen.guessed = not (agree or clear)
    return chosen
