"""Finding the pictures' folder without typing its whole path: the folder field completes folder
names as they are typed (→ takes the suggestion, as in a shell), and ctrl+o opens a browser of
folders only. Paths are shown as the user would write them: relative to where sagewiz was
started, or from ~, so that what is picked is what goes into the field."""

from __future__ import annotations

import os
from pathlib import Path

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Button, DirectoryTree, Input, Static

from sagewiz.tui.words import shown_path


def complete_folder(typed: str) -> str | None:
    """What ``typed`` becomes with the first folder (alphabetically) whose name it starts, or the
    folder it names whole: ``dig`` → ``digits/``, ``digits`` → ``digits/``, ``digits/`` → ``digits/test/``. Hidden folders only when the
    name typed starts with a dot. None when no folder fits or the folder can't be read."""
    if not typed or typed == "~":
        return None
    parent_text, _, start = typed.rpartition("/")
    parent = Path(os.path.expanduser(parent_text or "/")) if "/" in typed else Path(".")  # "/tm": the root
    try:
        names = sorted(entry.name for entry in os.scandir(parent)
                       if entry.name.startswith(start) and entry.is_dir() and (start.startswith(".") or not entry.name.startswith(".")))
    except OSError:
        return None
    if start in names:  # a folder's whole name: into it
        return typed + "/"
    return typed + names[0][len(start):] + "/" if names else None


class FolderSuggester(Suggester):
    """Completes folder names in an Input, looked up afresh each time (folders come and go)."""

    def __init__(self):
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        return complete_folder(value)


class PathField(Vertical):
    """A field for a folder's path, with its buttons beside it. A field shows only as much of a path
    as it is wide: a path longer than that is also shown whole, folded, on a line under the field,
    so the folder named there can be read. How the field helps (folder names complete with →) is
    written on its lower edge, where it doesn't crowd the example in the empty field."""

    def __init__(self, value: str, *buttons: Button, field_id: str, placeholder: str = "~/Pictures/cats-and-dogs",
                 **kwargs):
        super().__init__(classes="path-field", **kwargs)
        self.value, self.buttons, self.field_id, self.placeholder = value, buttons, field_id, placeholder

    def compose(self) -> ComposeResult:
        field = Input(self.value, placeholder=self.placeholder, id=self.field_id, suggester=FolderSuggester())
        field.border_subtitle = "→ completes a folder name"
        with Horizontal(classes="row"):
            yield field
            yield from self.buttons
        yield Static("", classes="whole-path")

    def on_input_changed(self, _: Input.Changed) -> None:
        self.show_whole()

    def on_resize(self) -> None:
        self.show_whole()

    def show_whole(self) -> None:
        """The line under the field: the whole path when the field can't show it all, else none."""
        field, line = self.query_one(Input), self.query_one(".whole-path", Static)
        typed = field.value
        cut = field.content_size.width > 0 and Text(typed).cell_len >= field.content_size.width  # the cursor takes a cell
        line.display = cut
        line.update(f"[dim]In full:[/] {escape(typed)}" if cut else "")


class FoldersOnly(DirectoryTree):
    """A DirectoryTree of folders, without files or hidden folders, its top shown as the user writes it."""

    def __init__(self, path: Path, **kwargs):
        super().__init__(path, **kwargs)
        self.root.label = shown_path(path)

    def filter_paths(self, paths):
        return [p for p in paths if not p.name.startswith(".") and self._safe_is_dir(p)]

    def reset_node(self, node, label, data=None):
        if node is self.root and data is not None:  # the top changed (up one folder): name it the user's way
            label = shown_path(data.path)
        return super().reset_node(node, label, data)


def _about(folder: Path) -> str:
    """What a folder holds, in a few words: enough to tell a dataset from its neighbours."""
    try:
        subfolders = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as error:
        return f"[red]can't be read ({escape(error.strerror or str(error))})[/]"
    if {"train", "test"} <= set(subfolders):
        return "[green]train/ and test/ inside[/]: a dataset"
    if not subfolders:
        return "no folders inside: the classes are folders, so this is not the one"
    listed = ", ".join(subfolders[:5]) + (", …" if len(subfolders) > 5 else "")
    return f"{len(subfolders)} folder{'s' * (len(subfolders) != 1)} inside: {escape(listed)}"


class FolderPicker(ModalScreen["str | None"]):
    """Browse to the pictures' folder. Dismisses with the chosen folder as the user writes it,
    or None."""

    BINDINGS = [("escape", "cancel", "Cancel"), ("backspace", "up", "Up one folder")]

    def __init__(self, start: str):
        super().__init__()
        self.top = self._existing(start)

    @staticmethod
    def _existing(typed: str) -> Path:
        """The typed folder if it is there, else the nearest folder above it that is, else the current one."""
        path = Path(typed.strip() or ".").expanduser().absolute()
        for candidate in (path, *path.parents):
            if candidate.is_dir():
                return candidate
        return Path.cwd()

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Static("[b]Choose the folder with your pictures.[/] ↑↓ move, → or Enter opens a folder, "
                         "⌫ goes up; [b]Use this folder[/] takes the highlighted one.")
            yield FoldersOnly(self.top, id="tree")
            yield Static("", id="highlighted")
            with Horizontal(classes="row"):
                yield Button("Use this folder", variant="primary", id="use")
                yield Button("Up one folder (⌫)", id="up")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one(FoldersOnly).focus()
        self._describe(self.top)

    def _highlighted(self) -> Path:
        node = self.query_one(FoldersOnly).cursor_node
        return node.data.path if node is not None and node.data is not None else self.top

    def _describe(self, folder: Path) -> None:
        self.query_one("#highlighted", Static).update(f"[b]{escape(shown_path(folder))}[/]: {_about(folder)}")

    def on_tree_node_highlighted(self, event) -> None:
        if event.node.data is not None:
            self._describe(event.node.data.path)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "use":
            self.dismiss(shown_path(self._highlighted()))
        elif event.button.id == "up":
            self.action_up()
        else:
            self.dismiss(None)

    def action_up(self) -> None:
        if self.top.parent != self.top:
            self.top = self.top.parent
            self.query_one(FoldersOnly).path = self.top
            self._describe(self.top)

    def action_cancel(self) -> None:
        self.dismiss(None)
