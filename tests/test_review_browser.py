"""review.html of `data review` in a real headless browser (Debian's chromium, Selenium):
every thumbnail loads, every finding is listed, a file name with HTML characters shows
as text, and nothing runs off the page on a phone-wide window. Set
FLOWER_EDGE_SCREENSHOT=path.png to keep the screenshot."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest
from browser import chrome_driver

ODD_NAME = "copy <b>&'x\".png"  # markup characters in a file name must show as text

# Words of the captions' detail lines that the layout cut across two lines (the path, in
# <b>, may break where it must). A word broken in two has two client rects.
CUT_WORDS = """
const cut = [];
for (const caption of document.querySelectorAll('figcaption')) {
  const walker = document.createTreeWalker(caption, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement.tagName === 'B') continue;
    for (const m of node.data.matchAll(/[A-Za-z0-9]+/g)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      if (range.getClientRects().length > 1) cut.push(m[0]);
    }
  }
}
return cut;
"""


@pytest.fixture(scope="module")
def review_page(synth_data, tiny_run, tmp_path_factory):
    """The synthetic set with two labels flipped and an exact copy under an odd name,
    reviewed with the tiny run's backbone (a few seconds)."""
    from click.testing import CliRunner

    from flower_edge.cli.main import cli

    root = tmp_path_factory.mktemp("review-page") / "flowers"
    shutil.copytree(synth_data, root)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    for source, target in ((classes[0], classes[1]), (classes[1], classes[2])):
        photo = sorted((root / source).iterdir())[3]
        photo.rename(root / target / photo.name)
    shutil.copy2(sorted((root / classes[0]).iterdir())[5], root / classes[0] / ODD_NAME)
    out = root.parent / "review"
    result = CliRunner().invoke(cli, ["data", "review", str(root), "--run", str(tiny_run), "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def test_review_page_shows_every_thumbnail_and_finding(review_page, tmp_path):
    from selenium.webdriver.common.by import By

    with open(review_page / "review.csv", newline="") as fh:
        flagged = {r["path"] for r in csv.DictReader(fh) if r["flags"]}
    assert flagged
    driver = chrome_driver(width=430)
    try:
        driver.get((review_page / "review.html").as_uri())
        images = driver.find_elements(By.CSS_SELECTOR, "figure img")
        loaded = [driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", i)
                  for i in images]
        assert images and all(w and w > 0 for w in loaded), loaded
        captions = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "figcaption b")]
        assert {c.replace("\n", "") for c in captions} == flagged  # at most 24 a kind: all here
        assert "likely label errors" in driver.find_element(By.TAG_NAME, "h2").text
        assert ODD_NAME in driver.find_element(By.TAG_NAME, "body").text
        assert "pass --run RUN" not in driver.page_source  # --run was passed: it says why not checked
        assert driver.execute_script(CUT_WORDS) == []
        overflow = driver.execute_script(
            "return [...document.querySelectorAll('figure')].filter(f => f.scrollWidth > f.clientWidth).length"
            " + (document.documentElement.scrollWidth > window.innerWidth ? 1000 : 0)")
        assert overflow == 0, overflow
        shot = Path(os.environ.get("FLOWER_EDGE_SCREENSHOT") or tmp_path / "review.png")
        driver.set_window_size(430, min(4000, driver.execute_script("return document.body.scrollHeight")))
        assert driver.save_screenshot(str(shot))
    finally:
        driver.quit()
