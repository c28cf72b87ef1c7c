"""Make screenshots/*.png: every wizard screen, from the same scenes as the snapshot tests.

    .venv/bin/python screenshots/make_screenshots.py            # all of them (trains the sample: minutes)
    .venv/bin/python screenshots/make_screenshots.py --fast     # only the screens that need no training
    .venv/bin/python screenshots/make_screenshots.py dataset    # just these scenes

The real app runs headless at 100×30 on the local backend, in a fresh folder with its own
sagewiz home per scene (tests/tui_scenes.py says what each scene has and does). Each screen is
saved as SVG and converted with cairosvg (in the venv; the cairo library comes with most
systems). The training, results and clean-up pictures come from one run, one after the other.
Look at the PNGs after every change to a screen.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
# what the snapshot tests assume (tests/conftest.py), so that the pictures read the same on every
# computer: float32 suggestions and the reference pace, not this CPU's measured ones
os.environ.setdefault("SAGEWIZ_NO_BF16", "1")
os.environ.setdefault("SAGEWIZ_ASSUMED_PACE", "small=850,large=20")

from tui_scenes import BY_NAME, SCENES, Scene  # noqa: E402  (tests/ holds the scenes the snapshot tests use too)

SIZE = (100, 30)
WIDTH_PX = 1400
# Textual's SVG asks for Fira Code (loaded from the web in a browser). cairosvg can't load it and
# would fall back to a proportional font, which breaks every column; ask for a monospace font
# that is installed instead.
MONOSPACE = "DejaVu Sans Mono"


def chains(scenes: list[Scene]) -> list[list[Scene]]:
    """Scenes grouped so that one that continues another runs in the same app, right after it."""
    groups: list[list[Scene]] = []
    for scene in scenes:
        if scene.continues and groups and groups[-1][-1].name == scene.continues:
            groups[-1].append(scene)
        else:
            groups.append([scene])
    return groups


def to_png(svg: str, png: Path) -> None:
    import cairosvg

    svg = re.sub(r"Fira Code", MONOSPACE, svg)
    cairosvg.svg2png(bytestring=svg.encode(), write_to=str(png), output_width=WIDTH_PX)


async def shoot(chain: list[Scene], workdir: Path) -> None:
    app = chain[0].app(workdir)
    async with app.run_test(size=SIZE) as pilot:
        for scene in chain:
            await scene.drive(pilot)
            to_png(app.export_screenshot(title=f"sagewiz — {scene.caption}"), HERE / f"{scene.name}.png")
            print(f"screenshots/{scene.name}.png  {scene.caption}", flush=True)


def run_chain(chain: list[Scene]) -> None:
    """A fresh folder and sagewiz home for each chain, as if a new user started sagewiz there."""
    workdir = Path(tempfile.mkdtemp(prefix="sagewiz-screens-"))
    before = Path.cwd()
    os.environ["SAGEWIZ_HOME"] = str(workdir / "home")
    os.chdir(workdir)
    try:
        asyncio.run(shoot(chain, workdir))
    finally:
        os.chdir(before)
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="scenes to shoot (default: all)")
    parser.add_argument("--fast", action="store_true", help="skip the scenes that train a model")
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(BY_NAME)
    if unknown:
        parser.error(f"no scene called {', '.join(sorted(unknown))}; there are: {', '.join(BY_NAME)}")
    names = set(args.names or BY_NAME)
    for name in list(names):  # a scene that continues another needs that one first
        while BY_NAME[name].continues:
            name = BY_NAME[name].continues
            names.add(name)
    wanted = [s for s in SCENES if s.name in names and not (args.fast and s.slow)]
    for chain in chains(wanted):
        run_chain(chain)
    return 0


if __name__ == "__main__":
    sys.exit(main())
