"""Debian's chromium driven by Selenium, headless: what the tests of web pages share.
Where chromium, chromium-driver or selenium is missing a test skips with the reason;
under CI=true it fails (.ci/run installs them)."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


def _missing(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must have {reason} (.ci/run installs them)")
    pytest.skip(reason)


def chrome_driver(width=430, height=900):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium (the dev extra)")
    browser = next((shutil.which(b) for b in CHROMIUM if shutil.which(b)), None)
    driver_path = shutil.which("chromedriver")
    if not browser or not driver_path:
        _missing("Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}", "--hide-scrollbars"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
