"""Whole-file reading of the watermark: soft evidence from every face of every frame read, combined
into one decision with a calibrated false-positive probability.

Per layer (watermark.LAYERS: v3, v2, each also read as mirrored, and v1) the faces' readings are summed:
each is a correlation in chroma levels, so a face that carries the mark adds its amplitude with the
right sign and an unmarked or destroyed one adds noise of either sign.

Presence (v3, written now). A known word is tested by correlation (`presence_test`): z, the summed cell
terms times the signs the word gives them, over their norm. On a clean file each cell's term is the host
times a chip that is a fair coin independent of the host, so by Hoeffding's inequality P(z >= t) <=
exp(-t^2 / 2) whatever the host; the test passes at <= PRESENCE_ALPHA (times the layers and face subsets
tried). Cells, not bits, are the terms: ~216 independent signs rather than 64 per-bit sums, which is what
lets a mark that has lost a third of its bits' signs still stand out. Frames of one shot repeat the same
host error in every frame, which no sum averages away; the number of terms is what bounds z.

Decoding (v2, read only). A payload v2 word is accepted only when all its 32 check bits match its
CRC-32. Summed bits are decoded *softly* (Chase decoding): the hard decision first, then the words that
flip the least reliable bits (smallest |sum|), cheapest flips first, up to MAX_CANDIDATES words. On a
clean file the summed bits' signs are independent of their magnitudes, so every candidate is a uniformly
random word and passes with probability 2^-32: the k-th passing happens with probability <= k * 2^-32.
The count of check bits the best candidate matched is reported too: on clean files it follows the
maximum of MAX_CANDIDATES Binomial(32, 1/2) draws (`check_match_p`), which
benchmarks/watermark_null.py checks on every frame of the shared media.

The whole test (v3's presence, v2's candidates and v1's two attempts at 2^-24) passes on a clean file
with probability <= FALSE_POSITIVE_RATE ~ 9e-7.
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
PRESENCE_ALPHA = 3e-7  # presence_test: found at this false-positive probability (all its tries together)
FALSE_POSITIVE_RATE = (PRESENCE_ALPHA + MAX_CANDIDATES * 2.0 ** -payload.V2_CHECKED_BITS
                       + V1_ATTEMPTS * 2.0 ** -payload.CHECKED_BITS)
MODEL_TEST_ALPHA = 1e-6  # model_tests: the mark of a named model is found at this false-positive probability
# A frame "carries" the mark when one of its faces reads >= 80% of the payload's bits right:
# P(>= 52 of 64 by chance) ~ 3e-7 (77 of 96: ~1e-9), so an unmarked face in a marked video is not counted.
CARRY_AGREEMENT = 0.8
V3_LAYERS = ("v3", "v3-mirrored")
V2_LAYERS = ("v2", "v2-mirrored")


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


def _combinations(faces: list[tuple[int, dict[str, np.ndarray]]], layers: tuple[str, ...] = V2_LAYERS,
                  cells: bool = False) -> list[tuple[str, np.ndarray]]:
    """(layer, summed soft bits, or with `cells` summed cell terms) to test: every layer over all faces,
    then over the strong half (a marked face among unmarked ones: other people, other shots)."""
    out = []
    for layer in layers:
        key = layer + watermark.CELLS if cells else layer
        found = [f for _, f in faces if key in f]
        if not found:
            continue
        values = np.stack([f[key] for f in found])
        out.append((layer, values.sum(0)))
        if len(values) > 1:
            strength = np.abs(np.stack([f[layer] for f in found])).mean(1)
            out.append((layer, values[strength >= np.median(strength)].sum(0)))
    return out


def _z(values: np.ndarray, sign: np.ndarray) -> float:
    norm = float(np.sqrt((values * values).sum()))
    return float((values * sign).sum()) / norm if norm > 0 else 0.0


def _union_p(z: float, tries: int) -> float:
    """Hoeffding's bound on a clean file reaching z, times the tries (union bound)."""
    return min(1.0, tries * math.exp(-z * z / 2)) if z > 0 else 1.0


def presence_test(faces: list[tuple[int, dict[str, np.ndarray]]]) -> dict[str, Any]:
    """Whether the faces carry a v3 mark (its PRESENCE word, whatever the model), and on a find the
    model fingerprint read bit by bit with an estimate of how surely (`fingerprint_certainty`)."""
    lay = watermark.layout(watermark.V3)
    known = lay.bit_of >= payload.V3_FP_BITS
    presence_sign = 2.0 * payload.PRESENCE - 1.0
    sign = presence_sign[lay.bit_of[known] - payload.V3_FP_BITS]
    combos = _combinations(faces, V3_LAYERS, cells=True)
    if not combos:
        return {"found": False}
    z, c = max((_z(summed[known], sign), c) for c, (_, summed) in enumerate(combos))
    p = _union_p(z, len(combos))
    result: dict[str, Any] = {"found": p <= PRESENCE_ALPHA, "presence_z": round(z, 3), "presence_p": p}
    if result["found"]:
        layer, summed = combos[c]
        per_bit = np.bincount(lay.bit_of, summed, watermark.V3.nbits)  # each bit's cells, added up
        fp = per_bit[:payload.V3_FP_BITS]
        bits = np.concatenate([(fp > 0).astype(np.uint8), payload.PRESENCE])
        certainty = fingerprint_certainty(fp, per_bit[payload.V3_FP_BITS:] * presence_sign)
        result.update(layer=layer, bits=bits, candidate=1, p_value=p,
                      payload={**payload.decode_v3(bits), "certainty": certainty})
    return result


def fingerprint_certainty(fp_bits: np.ndarray, known_bits: np.ndarray) -> float:
    """The estimated probability that every fingerprint bit of a v3 mark was read right. The presence
    bits, read the same way and signed by their known values (`known_bits`), show how a bit of this
    file reads: Normal(m, v) from their mean and variance; a fingerprint bit reading s is then wrong
    with probability 1 / (1 + exp(2 |s| m / v)). Below report.MODEL_SURE the model is said to be unsure
    (benchmarks/watermark_attacks.py prints this beside whether the reading was right)."""
    m, v = float(known_bits.mean()), float(known_bits.var())
    if m <= 0 or v <= 0:
        return 0.0
    llr = np.minimum(2.0 * np.abs(fp_bits) * m / v, 700.0)
    return round(float(np.prod(1.0 - 1.0 / (1.0 + np.exp(llr)))), 6)


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
    v3 = presence_test(read)
    v2 = decode_v2(read)
    mark = v3 if v3["found"] else v2 if v2["found"] else decode_v1(read)
    result.update({k: v2[k] for k in ("check_bits_matched", "candidates", "p_value") if k in v2})
    result.update({k: v3[k] for k in ("presence_z", "presence_p") if k in v3})
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
    target = watermark.scheme_of(layer).target
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
    """Whether the faces carry the mark of each model named in advance (verify --model, or the model a
    file's own tags name), with a calibrated false-positive probability.

    A named model is one hypothesis, not the 2^32 words a blind decode must tell apart, so far less of
    the mark is needed. Statistic: z, as for `presence_test`, over the cells of the model's own bits: in
    v3 its 32 fingerprint bits (the presence word is every model's), in v2 its whole word. On a clean
    file P(z >= t) <= exp(-t^2 / 2); the probability reported is that, times the layers and the models
    tested (union bound). The mark is found when it is <= MODEL_TEST_ALPHA. Another model's mark reads
    about as chance: fingerprints differ in about half their bits (v2: ~32 of 64, through the check).
    """
    read = [(i, _as_layers(s)) for i, s in faces]
    sums = _summed_layers(read, V3_LAYERS + V2_LAYERS)
    out = []
    for fingerprint in fingerprints:
        best = (0.0, "v2")
        for layer, (summed, cells) in sums.items():
            word = payload.encode_for(watermark.scheme_of(layer).version, fingerprint)
            best = max(best, (_z(*_own_terms(layer, summed, cells, word)), layer))
        z, layer = best
        p = _union_p(z, len(sums) * len(fingerprints))
        test = {"model": fingerprint[:payload.V2_FP_HEX], "found": p <= MODEL_TEST_ALPHA, "layer": layer,
                "z": round(z, 3), "false_positive_probability": p}
        word = payload.encode_for(watermark.scheme_of(layer).version, fingerprint)
        per_frame = frame_readings(read, layer, word)  # the per-frame plot: 1 = as embedded
        if per_frame:
            test.update(signal=mean_strength(per_frame), strength=strength_series(per_frame))
        out.append(test)
    return out


def _summed_layers(read: list[tuple[int, dict[str, np.ndarray]]],
                   layers: tuple[str, ...]) -> dict[str, tuple[np.ndarray, bool]]:
    """Per layer read, the sum over all faces of its cell terms (True) or, where a reading has none
    (made by hand), of its soft bits (False)."""
    out = {}
    for layer in layers:
        found = [f for _, f in read if layer in f]
        if found:
            cells = all(layer + watermark.CELLS in f for f in found)
            out[layer] = (np.stack([f[layer + watermark.CELLS] if cells else f[layer] for f in found]).sum(0), cells)
    return out


def _own_terms(layer: str, summed: np.ndarray, cells: bool, word: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(terms, the signs `word` gives them) of the part of a layer's reading that names the model."""
    scheme = watermark.scheme_of(layer)
    own = payload.V3_FP_BITS if scheme.version == 3 else scheme.nbits
    bit_of = watermark.layout(scheme).bit_of if cells else np.arange(scheme.nbits)
    chosen = bit_of < own
    return summed[chosen], (2.0 * word - 1.0)[bit_of[chosen]]


def watermark_found(mark: dict[str, Any]) -> bool:
    """The watermark was decoded, or a named model's mark was found in it."""
    return bool(mark["found"] or any(t["found"] for t in mark.get("models", ())))
