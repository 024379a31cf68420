"""Whole-file reading of the watermark: soft evidence from every face of every frame read, combined
into one payload decision with a calibrated false-positive probability.

Per layer (watermark.LAYERS: v2, v2 read as mirrored, v1) the faces' soft bits are summed: each is a
per-bit correlation in chroma levels, so a face that carries the mark adds its amplitude with the
right sign and an unmarked or destroyed one adds noise of either sign. Frames of one shot repeat the
same host error (a static face errs on the same bits in every frame), which no sum averages away, so
the sum is decoded *softly* (Chase decoding): the hard decision first, then the words that flip the
least reliable bits (smallest |sum|), cheapest flips first, up to MAX_CANDIDATES words in all.

Calibration. A payload v2 word is accepted only when all its 32 check bits match its CRC-32. On a
clean file the summed bits' signs are independent of their magnitudes (the chips are +-1 at random),
so every candidate, however chosen from the magnitudes, is a uniformly random word and passes with
probability 2^-32; the k-th candidate passing therefore happens on clean files with probability
<= k * 2^-32 (union bound), which is the false-positive probability reported. The whole test (all
MAX_CANDIDATES words, and v1's two attempts at 2^-24) passes on a clean file with probability
<= FALSE_POSITIVE_RATE ~ 6e-7. The count of check bits the best candidate matched is reported too:
on clean files it follows the maximum of MAX_CANDIDATES Binomial(32, 1/2) draws (`check_match_p`),
which benchmarks/watermark_null.py checks on every frame of the shared media.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np

from . import payload, watermark

CHASE_BITS = 11  # least reliable bits considered for flipping: 2^11 words per combination
MAX_CANDIDATES = 2048  # words tried in all (every layer and face subset): 2048 * 2^-32 = 4.8e-7
V1_ATTEMPTS = 2
FALSE_POSITIVE_RATE = MAX_CANDIDATES * 2.0 ** -payload.V2_CHECKED_BITS + V1_ATTEMPTS * 2.0 ** -payload.CHECKED_BITS
MODEL_TEST_ALPHA = 1e-6  # model_tests: the mark of a named model is found at this false-positive probability
# A frame "carries" the mark when one of its faces reads >= 80% of the payload's bits right:
# P(>= 52 of 64 by chance) ~ 3e-7, so an unmarked face in a marked video is not counted.
CARRY_AGREEMENT = 0.8


def _as_layers(soft: np.ndarray | dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return soft if isinstance(soft, dict) else {"v2": np.asarray(soft)}


def chase_words(soft: np.ndarray, limit: int) -> np.ndarray:
    """Up to `limit` candidate words (uint8, n x 64) for summed soft bits, most likely first."""
    hard = (soft > 0).astype(np.uint8)
    n = min(CHASE_BITS, len(soft))
    weak = np.argsort(np.abs(soft), kind="stable")[:n]
    flips = ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1).astype(np.uint8)
    ranked = np.argsort(flips @ np.abs(soft[weak]), kind="stable")[:limit]
    words = np.repeat(hard[None], len(ranked), axis=0)
    words[:, weak] ^= flips[ranked]
    return words


def check_matches(words: np.ndarray) -> np.ndarray:
    """For each payload v2 word, how many of its 32 check bits match the CRC of its fingerprint."""
    packed = np.packbits(words, axis=1)
    out = np.empty(len(words), np.int64)
    for i, row in enumerate(packed):
        expected = zlib.crc32(bytes([payload.IDENTIFIER, 2]) + row[:4].tobytes())
        out[i] = 32 - (expected ^ int.from_bytes(row[4:].tobytes(), "big")).bit_count()
    return out


def check_match_p(matched: int, candidates: int) -> float:
    """P(the best of `candidates` random words matches >= `matched` of 32 check bits)."""
    tail = sum(math.comb(32, k) for k in range(matched, 33)) / 2.0 ** 32
    return float(min(1.0, -math.expm1(candidates * math.log1p(-tail)) if tail < 1 else 1.0))


def _combinations(faces: list[tuple[int, dict[str, np.ndarray]]]) -> list[tuple[str, np.ndarray]]:
    """(layer, summed soft bits) to decode: every v2 layer over all faces, then over the strong half
    (a marked face among unmarked ones: other people, other shots)."""
    out = []
    for layer in ("v2", "v2-mirrored"):
        found = [f[layer] for _, f in faces if layer in f]
        if not found:
            continue
        softs = np.stack(found)
        out.append((layer, softs.sum(0)))
        if len(softs) > 1:
            strength = np.abs(softs).mean(1)
            out.append((layer, softs[strength >= np.median(strength)].sum(0)))
    return out


def decode_v2(faces: list[tuple[int, dict[str, np.ndarray]]]) -> dict[str, Any]:
    combos = _combinations(faces)
    if not combos:
        return {"found": False}
    per = MAX_CANDIDATES // len(combos)
    words = [chase_words(s, per) for _, s in combos]
    matches = [check_matches(w) for w in words]
    tried = sum(len(w) for w in words)
    # the k-th word overall, in the order tried: rank r of every combination before rank r + 1
    order = [(r * len(combos) + c + 1, c, r) for c, w in enumerate(words) for r in range(len(w))]
    passing = sorted(t for t in order if matches[t[1]][t[2]] == payload.V2_CHECKED_BITS)
    best = int(max(m.max() for m in matches))
    result: dict[str, Any] = {"found": False, "check_bits_matched": best, "candidates": tried,
                              "p_value": check_match_p(best, tried)}
    if passing:
        k, c, r = passing[0]
        bits = words[c][r]
        result.update(found=True, layer=combos[c][0], bits=bits, candidate=k,
                      p_value=k * 2.0 ** -payload.V2_CHECKED_BITS, payload=payload.decode_v2(bits))
    return result


def decode_v1(faces: list[tuple[int, dict[str, np.ndarray]]]) -> dict[str, Any]:
    softs = [f["v1"] for _, f in faces if "v1" in f]
    if not softs:
        return {"found": False}
    stack = np.stack(softs)
    strength = np.abs(stack).mean(1)
    attempts = [np.ones(len(stack), bool)] + ([strength >= np.median(strength)] if len(stack) > 1 else [])
    for k, use in enumerate(attempts, 1):
        bits = (stack[use].sum(0) > 0).astype(np.uint8)
        decoded = payload.decode(bits)
        if decoded is not None:
            return {"found": True, "layer": "v1", "bits": bits, "candidate": k, "payload": decoded,
                    "p_value": k * 2.0 ** -payload.CHECKED_BITS}
    return {"found": False}


def decode_faces(faces: list[tuple[int, np.ndarray | dict[str, np.ndarray]]], frames: int) -> dict[str, Any]:
    """Combine the faces' soft bits (per face: `watermark.read_layers`, or one v2 reading) into one
    payload decision, with its false-positive probability and each frame's strength."""
    read = [(i, _as_layers(s)) for i, s in faces]
    result: dict[str, Any] = {"found": False, "frames_checked": frames, "faces_checked": len(faces),
                              "false_positive_rate": FALSE_POSITIVE_RATE}
    v2 = decode_v2(read)
    mark = v2 if v2["found"] else decode_v1(read)
    result.update({k: v2[k] for k in ("check_bits_matched", "candidates", "p_value") if k in v2})
    if not mark["found"]:
        return result
    layer, bits = mark["layer"], mark["bits"]
    per_frame = frame_readings(read, layer, bits)
    carried = [a for a, _ in per_frame.values() if a >= CARRY_AGREEMENT]
    result.update(
        found=True, layer=layer, payload=mark["payload"], bits="".join(map(str, bits)),
        p_value=mark["p_value"], false_positive_probability=mark["p_value"], candidate=mark["candidate"],
        frames_marked=len(carried),
        # mean, over the frames that carried the mark, of the share of payload bits their best face
        # read right on its own (1.0 = every bit of every such frame)
        bit_accuracy=round(float(np.mean(carried)) if carried else 0.0, 4),
        # mean correlation with the payload, 1.0 = as embedded
        signal=mean_strength(per_frame),
        strength=strength_series(per_frame),
    )
    return result


def frame_readings(read: list[tuple[int, dict[str, np.ndarray]]], layer: str,
                   bits: np.ndarray) -> dict[int, tuple[float, float]]:
    """Per frame read, of its faces' readings in `layer`: (best share of `bits` read right, best
    correlation with `bits`, 1.0 = as embedded)."""
    sign = 2.0 * bits - 1.0
    target = (watermark.V1 if layer == "v1" else watermark.V2).target
    per_frame: dict[int, tuple[float, float]] = {}
    for index, f in read:
        if layer in f:
            agree = float(((f[layer] > 0) == bits.astype(bool)).mean())
            strength = float((f[layer] * sign).mean() / target)
            a, s = per_frame.get(index, (0.0, -math.inf))
            per_frame[index] = (max(a, agree), max(s, strength))
    return per_frame


def strength_series(per_frame: dict[int, tuple[float, float]]) -> list[tuple[int, float]]:
    return [(i, round(s, 3)) for i, (_, s) in sorted(per_frame.items())]


def mean_strength(per_frame: dict[int, tuple[float, float]]) -> float:
    return round(float(np.mean([s for _, s in per_frame.values()])), 3)


def model_tests(faces: list[tuple[int, np.ndarray | dict[str, np.ndarray]]],
                fingerprints: list[str]) -> list[dict[str, Any]]:
    """Whether the faces carry the v2 mark of each model named in advance (verify --model, or the model
    a file's own tags name), with a calibrated false-positive probability.

    A named model is one hypothesis, not the 2^32 words a blind decode must tell apart, so far less of
    the mark is needed: when an attack leaves too many bits wrong for the check bits to pass, the
    summed soft bits can still agree with that model's word far beyond chance. Statistic: z, the
    correlation of the summed soft bits (per layer: v2, v2 mirrored) with the word's signs, over
    their norm. On a clean file each summed bit's sign is a fair coin independent of its magnitude
    (as for the blind decode), so by Hoeffding's inequality P(z >= t) <= exp(-t^2 / 2); the
    probability reported is that, times the layers and the models tested (union bound). The mark is
    found when it is <= MODEL_TEST_ALPHA. Another model's mark reads as chance: two payloads differ
    in ~32 bits.
    """
    read = [(i, _as_layers(s)) for i, s in faces]
    layers = [(name, np.stack(found).sum(0)) for name in ("v2", "v2-mirrored")
              if (found := [f[name] for _, f in read if name in f])]
    out = []
    for fingerprint in fingerprints:
        word = payload.encode_v2(fingerprint)
        sign = 2.0 * word - 1.0
        best = (0.0, "v2")
        for name, summed in layers:
            norm = float(np.sqrt((summed * summed).sum()))
            z = float((summed * sign).sum()) / norm if norm > 0 else 0.0
            best = max(best, (z, name))
        z, layer = best
        p = min(1.0, len(layers) * len(fingerprints) * math.exp(-z * z / 2)) if z > 0 else 1.0
        test = {"model": fingerprint[:payload.V2_FP_HEX], "found": p <= MODEL_TEST_ALPHA, "layer": layer,
                "z": round(z, 3), "false_positive_probability": p}
        per_frame = frame_readings(read, layer, word)  # the per-frame plot: 1 = as embedded
        if per_frame:
            test.update(signal=mean_strength(per_frame), strength=strength_series(per_frame))
        out.append(test)
    return out


def watermark_found(mark: dict[str, Any]) -> bool:
    """The watermark was decoded, or a named model's mark was found in it."""
    return bool(mark["found"] or any(t["found"] for t in mark.get("models", ())))
