"""The payloads of the pixel watermark.

Version 3 (written now; watermark.V3), 96 bits:

    bits  0..31  model fingerprint: the first 32 bits (8 hex digits) of `model_fingerprint`
    bits 32..95  PRESENCE: the same 64 bits in every facesmith output

A blind reader cannot test a word it does not know, and decoding 32 unknown bits through a check needs
nearly every bit right: after CRF 28 + half size + crop, ~50-px faces keep too little of v2's mark for
that (its check fails on a few consistently wrong bits), although it correlates with the right word far
beyond chance. The known part is what a blind `verify` tests (evidence.presence_test: the correlation of
its cells with PRESENCE, Hoeffding-bounded), so it gets two thirds of the cells; the fingerprint is read
bit by bit once the mark is found, with an estimate of how surely (evidence.py). There is no check: the
full 64-bit fingerprint is in the metadata and the C2PA manifest, and `verify --model` tests a named
model's 32 bits on their own.

Version 2 (written by facesmith before payload v3; read only; watermark.V2), 64 bits:

    bits  0..31  model fingerprint: the first 32 bits (8 hex digits) of `model_fingerprint`
    bits 32..63  check: CRC-32 over the bytes F5 02 (identifier, version) and the 4 fingerprint bytes

The identifier and version are not sent: the check covers them, so all 32 check bits are what random
bits must match, 2^-32 ~ 2.3e-10 per candidate. verify soft-decodes (it tries the most likely payloads
in order, verify.py) and reports k * 2^-32 for a pass at the k-th candidate. 32 fingerprint bits tell
1,000 models apart with ~1e-4 collision chance; the full 64-bit fingerprint is in the metadata and the
C2PA manifest.

Version 1 (read only):

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
CHECKED_BITS = 24  # v1: identifier + version + check, what random bits must match to pass `decode`
V2_FP_BITS = 32
V2_CHECKED_BITS = 32
V2_FP_HEX = V2_FP_BITS // 4  # hex digits of a model fingerprint a v2 (and v3) payload carries
V3_FP_BITS = V2_FP_BITS
V3_NBITS = 96
# Fixed forever (embedder and every verifier), written out rather than drawn so no library's random
# stream can change it: 32 ones and 32 zeros in a random order.
PRESENCE_WORD = 0xEA41DE6D5F01846B


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


def _fingerprint_32(fingerprint: str) -> int:
    """The first 32 bits of a hex model fingerprint (zero-padded): what payloads v2 and v3 carry."""
    return int((fingerprint + "0" * V2_FP_HEX)[:V2_FP_HEX], 16)


def _v2_check(fp: int) -> int:
    return zlib.crc32(bytes([IDENTIFIER, 2]) + fp.to_bytes(4, "big"))


def encode_v2(fingerprint: str) -> np.ndarray:
    """The 64 payload-v2 bits (uint8 0/1) for a hex model fingerprint."""
    fp = _fingerprint_32(fingerprint)
    return np.array(_to_bits(fp, V2_FP_BITS) + _to_bits(_v2_check(fp), V2_CHECKED_BITS), np.uint8)


def check_v2(words: np.ndarray) -> np.ndarray:
    """For each row of `words` (uint8 0/1, n x 64), whether it is a valid payload v2."""
    words = np.asarray(words, np.uint8).reshape(-1, NBITS)
    packed = np.packbits(words, axis=1)  # 8 bytes per row, big-endian bits
    fps = packed[:, :4].astype(np.uint64)
    fp = (fps[:, 0] << 24) | (fps[:, 1] << 16) | (fps[:, 2] << 8) | fps[:, 3]
    ck = packed[:, 4:].astype(np.uint64)
    check = (ck[:, 0] << 24) | (ck[:, 1] << 16) | (ck[:, 2] << 8) | ck[:, 3]
    return np.array([_v2_check(int(f)) == int(c) for f, c in zip(fp, check, strict=True)], bool)


def decode_v2(bits: np.ndarray) -> dict[str, object] | None:
    """{"identifier", "version", "model"} when `bits` is a valid payload v2, else None."""
    bits = np.asarray(bits).astype(np.uint8)
    if bits.shape != (NBITS,) or not check_v2(bits)[0]:
        return None
    return {"identifier": "facesmith", "version": 2, "model": f"{_from_bits(bits[:V2_FP_BITS]):08x}"}


PRESENCE = np.array(_to_bits(PRESENCE_WORD, 64), np.uint8)


def encode_v3(fingerprint: str) -> np.ndarray:
    """The 96 payload-v3 bits (uint8 0/1) for a hex model fingerprint."""
    return np.concatenate([np.array(_to_bits(_fingerprint_32(fingerprint), V3_FP_BITS), np.uint8), PRESENCE])


def decode_v3(bits: np.ndarray) -> dict[str, object]:
    """{"identifier", "version", "model"} of a payload v3 (the fingerprint bits as read: v3 has no check)."""
    bits = np.asarray(bits).astype(np.uint8)
    return {"identifier": "facesmith", "version": 3, "model": f"{_from_bits(bits[:V3_FP_BITS]):08x}"}


def encode_for(version: int, fingerprint: str) -> np.ndarray:
    """The payload bits a watermark format (`watermark.Scheme.version`) carries for a model fingerprint."""
    return {1: encode, 2: encode_v2, 3: encode_v3}[version](fingerprint)
