"""What a test does with the app, as a user would: wait for the screen to show something, click a button.
Shared by the Pilot stories, the snapshot scenes and the screenshot script."""

from __future__ import annotations

import time
from collections.abc import Callable


async def wait_for(pilot, condition: Callable[[], object], timeout: float = 180.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            said = "; ".join(note.message for note in pilot.app._notifications) or "nothing"
            raise AssertionError(f"timed out waiting for {what}, on {type(pilot.app.screen).__name__}; messages: {said}")
        await pilot.pause(0.1)


async def click(pilot, selector: str) -> None:
    """Click a widget where it is drawn now. A condition can come true a moment before the screen is laid out
    again: hiding the Stop button moves Next to the left, and a click at once lands where Next was, on nothing
    (a CI run waited 3 minutes for a step that was never asked for). So the layout settles first, and a click
    that lands elsewhere fails here, by name. A Button ignores clicks for 0.2 s after a press (it still shows
    that press), so a second click on it waits for that to pass instead of being lost."""
    await pilot.pause()
    target = pilot.app.screen.query(selector)
    while target and target.first().has_class("-active"):
        await pilot.pause(0.05)
    assert await pilot.click(selector), f"the click on {selector} landed on another widget"


def screen_lines(app) -> list[str]:
    """The screen as the user sees it, line by line, in plain text."""
    return [strip.text for strip in app.screen._compositor.render_strips()]
