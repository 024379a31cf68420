"""Names read from files are only names: every file a faceset, model or work folder refers to stays in it.

Face names come from `alignments.db` and `faces import` JSON, checkpoint file names from `state.json`;
those files can come from anyone. A name is accepted only as one plain file name (no separator, no
`..`, not absolute), and every delete, move and rename is checked, after resolving links in the folder
part, to stay inside the folder it works in.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .errors import InputError

MAX_NAME = 255  # bytes of one name on every common filesystem


def is_plain_name(name: object) -> bool:
    """Whether `name` is one file name that cannot point outside the folder it is joined to."""
    if not isinstance(name, str) or name in ("", ".", "..") or "\0" in name:
        return False
    if "/" in name or "\\" in name or (os.altsep and os.altsep in name) or os.sep in name:
        return False
    return len(name.encode("utf-8", "surrogateescape")) <= MAX_NAME and not Path(name).is_absolute()


def plain_name(name: object, where: str) -> str:
    """`name` if it is a plain file name, else InputError naming the file it was read from."""
    if not is_plain_name(name):
        raise InputError(f"{where}: {str(name)[:80]!r} is not a plain file name; a name read from a file "
                         "may not point into another folder - refusing it")
    assert isinstance(name, str)
    return name


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def inside(folder: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path:
    """`path` (absolute or relative to `folder`) if it lies inside `folder` once the links of its folder
    part are resolved; else InputError. The last part is not resolved: deleting or renaming a link
    acts on the link itself, not on what it points to."""
    folder = _real(Path(folder))
    path = Path(folder, path)
    parent = _real(path.parent)
    if path.name in ("", ".", "..") or (parent != folder and folder not in parent.parents):
        raise InputError(f"{path} is outside {folder}; facesmith only changes files inside the folder it works in")
    return parent / path.name


def unlink_inside(folder: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """Delete one file (missing is fine) after checking it is inside `folder`."""
    inside(folder, path).unlink(missing_ok=True)


def rename_inside(folder: str | os.PathLike[str], src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Rename within `folder` (both ends checked)."""
    os.rename(inside(folder, src), inside(folder, dst))


def rmtree_inside(folder: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """Remove a folder tree inside `folder` (a link is removed as a link, never followed)."""
    target = inside(folder, path)
    if target.is_symlink() or not target.is_dir():
        target.unlink(missing_ok=True)
    else:
        shutil.rmtree(target, ignore_errors=True)


def same_or_nested(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether two paths are the same file/folder or one lies inside the other (links resolved)."""
    ra, rb = _real(Path(a)), _real(Path(b))
    return ra == rb or ra in rb.parents or rb in ra.parents
