"""Render every page of the built docs in headless Chromium; fail if anything sticks out.

    python docs/check_layout.py docs/_build/html [--screenshots DIR]

Each page is checked at a desktop and a phone width. It fails when it scrolls sideways as a
whole, when an element of the main column ends past the column's right edge (unless a box around
it scrolls: a code block or a table that scrolls inside its box is fine), or when a box cuts its
content off instead of scrolling it; at the desktop width, also when a diagram (a ``text`` block)
only shows whole by scrolling. Each page is shown in a frame of the width checked, inside a
page of ours whose script measures it once it has loaded and writes what it found into its own
DOM, which Chromium's ``--dump-dom`` prints.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: The widths of the window, in CSS pixels: a laptop's and a phone's.
WIDTHS = {"desktop": 1280, "phone": 390}
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
#: Quiet, self-contained runs: no sandbox (CI runs as root), no GPU, no network of its own.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--allow-file-access-from-files",
    "--virtual-time-budget=3000",
)

#: A page of our own that shows one page of the docs in a frame ``{width}`` pixels wide (Chromium
#: will not make a window narrower than 500 pixels) and measures it once it has loaded.
_FRAME = """<!doctype html>
<html><body style="margin: 0; overflow: hidden">
<iframe src="{page}" style="display: block; border: 0; width: {width}px; height: {height}px"></iframe>
<script>
const TOLERANCE = 16;  // furo lets headings' ¶ links and tables' shadows reach into the padding
const DIAGRAMS_FIT = {diagrams_fit};  // a diagram (a text block) shows whole, without scrolling
document.querySelector("iframe").addEventListener("load", (event) => {{
  const doc = event.target.contentDocument;  // readable: --allow-file-access-from-files
  const style = (el) => doc.defaultView.getComputedStyle(el);
  const column = doc.querySelector("article[role=main]") || doc.body;
  const edge = column.getBoundingClientRect().right + TOLERANCE;
  const root = doc.documentElement;
  const classes = (el) => (typeof el.className === "string" ? el.className.trim() : "");
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (classes(el) ? "." + classes(el).split(/\\s+/).join(".") : "");
  const text = (el) => JSON.stringify((el.textContent || el.alt || "").trim().slice(0, 60));
  const scrolls = (el) => ["auto", "scroll"].includes(style(el).overflowX);
  const found = [];
  if (root.scrollWidth > root.clientWidth + 1) {{
    found.push(`the page is ${{root.scrollWidth}}px wide in a ${{root.clientWidth}}px window`);
  }}
  for (const el of column.querySelectorAll("*")) {{
    let inside = false;
    for (let up = el.parentElement; up && up !== column; up = up.parentElement) {{
      if (scrolls(up)) {{ inside = true; break; }}
    }}
    if (inside) continue;
    const box = el.getBoundingClientRect();
    const what = `${{name(el)}} ${{text(el)}}`;
    if (box.width && box.right > edge) {{
      const right = Math.round(box.right), column = Math.round(edge - TOLERANCE);
      found.push(`${{what}} ends at ${{right}}px, past the column's ${{column}}px`);
    }}
    const hidden = el.scrollWidth - el.clientWidth;
    if (["hidden", "clip"].includes(style(el).overflowX) && hidden > 1) {{
      found.push(`${{what}} cuts off ${{hidden}}px of its content`);
    }}
  }}
  for (const diagram of DIAGRAMS_FIT ? column.querySelectorAll("div.highlight-text pre") : []) {{
    const hidden = diagram.scrollWidth - diagram.clientWidth;
    if (hidden > 1) found.push(`the diagram ${{text(diagram)}} hides ${{hidden}}px until scrolled`);
  }}
  document.body.setAttribute("data-layout-problems", JSON.stringify(found));
}});
</script>
</body></html>
"""
_FINDINGS = re.compile(r'data-layout-problems="([^"]*)"')


def find_chromium() -> str | None:
    """The path of a Chromium on PATH, if any."""
    for name in CHROMIUM_NAMES:
        if found := shutil.which(name):
            return found
    return None


def chromium(binary: str, profile: Path, size: tuple[int, int], *args: str) -> str:
    """Run headless Chromium with a fresh profile and a window of ``size`` (width, height)."""
    result = subprocess.run(  # noqa: S603  (our own arguments)
        [binary, *FLAGS, f"--user-data-dir={profile}", "--window-size={},{}".format(*size), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


def framed(page: Path, width: int, height: int, folder: Path) -> Path:
    """A page of our own that shows ``page`` in a frame of ``width`` by ``height`` and measures it."""
    frame = folder / f"{page.stem}-{width}.html"
    diagrams_fit = "true" if width >= WIDTHS["desktop"] else "false"
    frame.write_text(
        _FRAME.format(page=page.as_uri(), width=width, height=height, diagrams_fit=diagrams_fit),
        encoding="utf-8",
    )
    return frame


def problems(binary: str, page: Path, width: int, tmp: Path) -> list[str]:
    """What sticks out of ``page`` in a window ``width`` pixels wide."""
    frame = framed(page, width, 900, tmp)
    dom = chromium(binary, tmp / "profile", (max(width, 800), 900), "--dump-dom", frame.as_uri())
    match = _FINDINGS.search(dom)
    if match is None:
        return ["the page never finished loading (no findings in its DOM)"]
    return list(json.loads(html.unescape(match[1])))


def screenshot(binary: str, page: Path, width: int, tmp: Path, shot: Path) -> None:
    """Save what the top 2,000 pixels of ``page`` look like in a window ``width`` pixels wide."""
    frame = framed(page, width, 2000, tmp)
    chromium(binary, tmp / "profile", (width, 2000), f"--screenshot={shot}", frame.as_uri())


def main() -> int:
    """Check every page; print what sticks out where; exit 1 if anything does."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("built", type=Path, help="the HTML build, e.g. docs/_build/html")
    parser.add_argument("--screenshots", type=Path, help="also save a screenshot of each page at each width")
    args = parser.parse_args()
    binary = find_chromium()
    if binary is None:
        print("no Chromium on PATH (Debian: apt-get install -y chromium)", file=sys.stderr)
        return 2
    failed = 0
    pages = sorted(
        page.resolve()
        for page in args.built.glob("*.html")
        if page.name not in {"genindex.html", "search.html"}
    )
    with tempfile.TemporaryDirectory() as tmp:
        for page in pages:
            for label, width in WIDTHS.items():
                found = problems(binary, page, width, Path(tmp))
                print(
                    f"{page.name} at {width}px ({label}): {'ok' if not found else f'{len(found)} problem(s)'}"
                )
                for problem in found:
                    print(f"    {problem}")
                failed += bool(found)
                if args.screenshots:
                    args.screenshots.mkdir(parents=True, exist_ok=True)
                    shot = args.screenshots.resolve() / f"{page.stem}-{width}.png"
                    screenshot(binary, page, width, Path(tmp), shot)
    print(f"{failed} page view(s) overflow" if failed else "every page fits at every width")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
