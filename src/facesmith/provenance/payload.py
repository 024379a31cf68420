"""The 64-bit payload of the pixel watermark.

    bits  0..7   identifier 0xF5 ("facesmith")
    bits  8..11  format version (1)
    bits 12..51  model fingerprint: the first 40 bits (10 hex digits) of `model_fingerprint`
    bits 52..63  check: the low 12 bits of CRC-32 over bits 0..51

A decode is accepted only when the identifier, the version and the check all match: 24 bits that
random bits (what an unmarked face decodes to) match with probability 2^-24 ~ 6e-8 per attempt.
64 bits is what a 128-px aligned face carries at the strength measured to survive the attacks in
tests/test_provenance_watermark.py (~12 cells of 4x4 px per bit); the full 64-bit fingerprint
is in the metadata and the C2PA manifest.
"""

from __future__ import annotations

import zlib

import numpy as np

IDENTIFIER = 0xF5
VERSION = 1
FP_BITS = 40
NBITS = 64


def _to_bits(value: int, n: int) -> list[int]:
    return [(value >> (n - 1 - i)) & 1 for i in range(n)]


def _from_bits(bits: np.ndarray) -> int:
    return int("".join("1" if b else "0" for b in bits), 2) if len(bits) else 0


def _check(head: list[int] | np.ndarray) -> int:
    return zlib.crc32(np.packbits(np.asarray(head, np.uint8)).tobytes()) & 0xFFF


def encode(fingerprint: str) -> np.ndarray:
    """The 64 payload bits (uint8 0/1) for a hex model fingerprint."""
    fp = int((fingerprint + "0" * 10)[: FP_BITS // 4], 16)
    head = _to_bits(IDENTIFIER, 8) + _to_bits(VERSION, 4) + _to_bits(fp, FP_BITS)
    return np.array(head + _to_bits(_check(head), 12), np.uint8)


def decode(bits: np.ndarray) -> dict[str, object] | None:
    """{"identifier", "version", "model"} when `bits` is a valid facesmith payload, else None."""
    bits = np.asarray(bits).astype(bool)
    if bits.shape != (NBITS,):
        return None
    head = bits[:52]
    if _from_bits(bits[:8]) != IDENTIFIER or _from_bits(bits[8:12]) != VERSION:
        return None
    if _from_bits(bits[52:]) != _check(head.astype(np.uint8)):
        return None
    return {"identifier": "facesmith", "version": VERSION, "model": f"{_from_bits(bits[12:52]):010x}"}
