"""The options of the `faces` tools, each default written once: the dataclass default, which the
tool functions (faceset/tools.py, sheet.py) and `facesmith faces TOOL` (`add_options`) both read."""

from __future__ import annotations

from dataclasses import dataclass

from ..face.options import ReferenceOptions
from ..options import option, same_as

SORT_KEYS = ("blur", "yaw", "pitch", "size", "identity", "histogram")


@dataclass(frozen=True)
class SortOptions:
    by: str | None = option(None, "sort key", choices=SORT_KEYS)
    undo: bool = option(False, "remove the order prefixes again")
    threshold: float = same_as(ReferenceOptions, "threshold",
                               help="same-person distance for --by identity (default %(default)s)")


@dataclass(frozen=True)
class FilterOptions:
    ref: tuple[str, ...] = same_as(ReferenceOptions, "ref", help="photos of the person to keep", required=True)
    threshold: float = same_as(ReferenceOptions, "threshold")
    dry_run: bool = option(False, "report only, move nothing")


@dataclass(frozen=True)
class DedupeOptions:
    threshold: int = option(4, "perceptual-hash distance in bits (of 64) counted as a duplicate (default "
                               "%(default)s)", metavar="BITS")
    dry_run: bool = option(False, "report only, move nothing")


@dataclass(frozen=True)
class InspectOptions:
    sheet: str | None = option(None, "contact sheet path (default DIR/_inspect/contact_sheet.png)", metavar="PNG")
    identities: bool = option(True, "skip counting identities (saves ~90 ms per sampled face)",
                              flag="--no-identities")
    identity_sample: int = option(200, "embed at most N evenly spaced faces to count identities (default "
                                       "%(default)s)", metavar="N")


@dataclass(frozen=True)
class SyncOptions:
    dry_run: bool = option(False, "report only, change nothing")


TOOL_OPTIONS: dict[str, type] = {"sort": SortOptions, "filter": FilterOptions, "dedupe": DedupeOptions,
                                 "inspect": InspectOptions, "sync": SyncOptions}
