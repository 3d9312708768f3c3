"""The web page in a real headless browser: Debian's chromium driven by Selenium.

It opens the page, uploads a real photo and reads the label from the page, then saves
a screenshot (set FLOWER_EDGE_SCREENSHOT=path.png to keep it). Where chromium or
chromium-driver cannot be installed it skips with the reason; under CI=true it fails.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

pytest.importorskip("flask", reason='needs the serve extra: pip install "flower-edge[serve]"')

from browser import chrome_driver  # noqa: E402


def serve_in_thread(bundle):
    from flower_edge.serve.app import create_app
    from flower_edge.serve.pool import PredictorPool
    from flower_edge.serve.server import make_server

    server = make_server(create_app(PredictorPool(bundle)), "127.0.0.1", 0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    return server, f"http://127.0.0.1:{server.effective_port}/"


def classify_in_page(driver, url: str, photo: Path, timeout: float = 30) -> str:
    """Open the page, choose `photo` in the upload input, wait for and return the shown label."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    wait = WebDriverWait(driver, timeout)
    wait.until(lambda d: "classes" in d.find_element(By.ID, "model").text)  # /v1/model answered
    driver.find_element(By.ID, "file").send_keys(str(photo.resolve()))
    wait.until(ec.text_to_be_present_in_element((By.ID, "timing"), "ms"))
    return driver.find_element(By.ID, "label").text


def test_page_uploads_a_real_photo_and_shows_the_label(runtime_bundles, tmp_path):
    from conftest import shared_path
    from selenium.webdriver.common.by import By

    from flower_edge.runtime.predictor import Predictor

    photo = sorted(shared_path("data", "flowers5-eval", "rose").glob("*.jpg"))[0]
    bundle = runtime_bundles["bundles"]["int8"]
    expected = Predictor(bundle).predict(photo, top_k=5)
    server, url = serve_in_thread(bundle)
    driver = chrome_driver()
    try:
        label = classify_in_page(driver, url, photo)
        assert label.lower() == expected[0][0].lower()
        bars = driver.find_elements(By.CSS_SELECTOR, "#bars li")
        assert len(bars) == len(expected)
        assert bars[0].text.split()[-1] == f"{expected[0][1] * 100:.1f}%"
        assert "int8" in driver.find_element(By.ID, "model").text
        shot = Path(os.environ.get("FLOWER_EDGE_SCREENSHOT") or tmp_path / "page.png")
        assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 5000
    finally:
        driver.quit()
        server.close()
