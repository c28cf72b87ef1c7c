"""Links in a picture folder: every folder is visited once, by its real identity (st_dev, st_ino).

People's folders hold links: ``cats/loop -> ..`` back to a parent, ``cats/more -> ../dogs`` to a
sibling class, a class folder linked in from elsewhere. Following every link, as im2rec's
``os.walk(followlinks=True)`` does, counts the dog pictures as cats too, or goes round a loop 40
levels deep. Here a folder that is part of the tree is visited only where it really is, and a link
to it is left out with where it leads; a folder outside the tree is visited once, through the
first link that reaches it. A file reached twice (a link to a picture listed where it is) is one
picture: :func:`once_each` keeps the real one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence


@dataclass(frozen=True)
class LeftOut:
    """A link (or a file or folder reached through one) that was not followed, and where it leads,
    both relative to the root ("." is the root itself)."""

    path: str
    leads_to: str
    loop: bool = False  # it leads back to a folder that holds it
    file: bool = False

    @property
    def reason(self) -> str:
        target = "the top folder" if self.leads_to == "." else self.leads_to + ("" if self.file else "/")
        if self.loop:
            return f"a link back to {target}, which holds it: following it would go round in circles, so it is not followed"
        if self.file:
            return f"a link to {target}, which is counted already: one picture is counted once"
        return f"a link to {target}, which is listed already: not followed, so its pictures are counted once, there"


def _relative(path: str, root: str) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def _identity(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


class FolderVisits:
    """Which folders a walk of ``root`` may enter. The real folders of the tree (reached without
    following any link) are found first, so a link met before the folder it leads to still gives
    way to it, whatever the walk's order."""

    def __init__(self, root: str):
        self.root = root
        self.real: dict[tuple[int, int], str] = {}
        self.outside: dict[tuple[int, int], str] = {}
        self.through_links: set[str] = set()  # folders entered that are not where they really are
        self.left_out: list[LeftOut] = []
        for folder, _, _ in os.walk(root):  # links are not followed here
            key = _identity(folder)
            if key is not None:
                self.real.setdefault(key, _relative(folder, root))

    def enter(self, folder: str) -> bool:
        """Whether the walk goes into ``folder`` (a path it reached); when not, why is in ``left_out``.
        A folder that can't be looked at is entered: the walk reports what it can't open."""
        key = _identity(folder)
        if key is None:
            return True
        here = _relative(folder, self.root)
        home = self.real.get(key)
        if home is None:
            home = self.outside.setdefault(key, here)
            if home == here:
                self.through_links.add(os.path.normpath(folder))
        if home == here:
            return True
        self.left_out.append(LeftOut(here, home, loop=home == "." or here.startswith(home + "/")))
        return False

    def linked(self, folder: str) -> bool:
        """Whether ``folder`` (entered) was reached through a link rather than being where it is."""
        return os.path.normpath(folder) in self.through_links


def once_each(paths: Sequence[str], linked: Sequence[bool], root: str) -> tuple[list[int], list[LeftOut]]:
    """Which of ``paths`` (files, in walk order) to keep when links make some the same file: the
    indices kept, and each one left out with the file it is. Of one file reached several ways the
    one not reached through a link is kept (the first such, else the first met). Nothing is asked
    of the file system when no path is linked."""
    if not any(linked):
        return list(range(len(paths))), []
    keys = [_identity(path) for path in paths]
    keeper: dict[tuple[int, int], int] = {}
    for index, key in enumerate(keys):
        if key is None:
            continue  # a link to nothing: inspecting it says so
        held = keeper.get(key)
        if held is None or (linked[held] and not linked[index]):
            keeper[key] = index
    kept, left_out = [], []
    for index, path in enumerate(paths):
        held = index if keys[index] is None else keeper[keys[index]]
        if held == index or not (linked[index] or linked[held]):
            kept.append(index)  # two real names of one file (a hard link) are two pictures: the copy check says so
        else:
            left_out.append(LeftOut(_relative(path, root), _relative(paths[held], root), file=True))
    return kept, left_out
