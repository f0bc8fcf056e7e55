"""`mnist-tui --serve` in a real browser: headless Chromium (Debian's chromium + chromium-driver)
driven by Selenium opens the page, waits for the app, presses s on a small run of the bundled
MNIST sample and checks the screenshot for the charts.

Not collected by `make test` (pyproject's norecursedirs); `make test-browser` runs it, and CI
(.ci/run) installs Chromium first. Without a browser it skips, unless MNIST_TUI_REQUIRE_BROWSER=1
(set by `make test-browser`), where a missing browser is a failure, not a silent skip.

Every wait is a bounded poll on a condition: a class on the page, the run's end record, pixels
of the charts in a screenshot. MNIST_TUI_SCREENSHOT=PATH also writes the final screenshot there,
reduced to a small palette PNG (the README's picture: assets/screenshots/serve-browser.png).
"""

from __future__ import annotations

import colorsys
import io
import os
import shutil
from pathlib import Path

import pytest

from core.runlog import METRICS_FILE, iter_records
from serving import ROOT, served

pytest.importorskip("PIL")
REQUIRED = os.environ.get("MNIST_TUI_REQUIRE_BROWSER") == "1"
PAGE_TIMEOUT_S = 90    # browser start + the app's first frame, on a busy 2-core CI machine
RUN_TIMEOUT_S = 180    # 3 epochs of 2,000 images, torch imported twice (app, engine)
CHART_TIMEOUT_S = 60   # the charts redraw at most every few seconds
WINDOW = (1200, 760)
SMALL_WINDOW = (640, 420)


def find_browser() -> tuple[str, str] | None:
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


@pytest.fixture
def browser(tmp_path):
    found = find_browser()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        found = None
    if found is None:
        message = "needs Chromium, chromium-driver and selenium (apt-get install chromium chromium-driver)"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    chromium, chromedriver = found
    home = tmp_path / "browser-home"  # nothing from this machine's profile, caches or HOME
    home.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--no-first-run",
                     "--disable-extensions", "--disable-background-networking", "--disable-sync",
                     "--enable-unsafe-swiftshader", f"--user-data-dir={home / 'profile'}",
                     f"--window-size={WINDOW[0]},{WINDOW[1]}", "--force-device-scale-factor=1"):
        options.add_argument(argument)
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / "config"), XDG_CACHE_HOME=str(home / "cache"),
               SE_OFFLINE="true")
    service = Service(executable_path=chromedriver, env=env, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(PAGE_TIMEOUT_S)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver):
    from PIL import Image

    return Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")


def hue_pixels(image, box: tuple[float, float, float, float], hue_range: tuple[float, float]) -> int:
    """Saturated, bright pixels whose hue (degrees) is in range, inside box (fractions of the image)."""
    width, height = image.size
    region = image.crop((int(box[0] * width), int(box[1] * height), int(box[2] * width), int(box[3] * height)))
    count = 0
    for (red, green, blue), times in _colours(region):
        hue, saturation, value = colorsys.rgb_to_hsv(red / 255, green / 255, blue / 255)
        if saturation > 0.45 and value > 0.45 and hue_range[0] <= hue * 360 <= hue_range[1]:
            count += times
    return count


def _colours(region):
    return [(colour, times) for times, colour in region.getcolors(maxcolors=region.width * region.height)]


CYAN, ORANGE, GREEN = (170, 210), (15, 45), (60, 110)
# the plot areas below the panel titles and the legend, above the axis labels and the status bar
LOSS_PLOT, ACCURACY_PLOT = (0.03, 0.12, 0.5, 0.80), (0.55, 0.22, 1.0, 0.80)
# a line of braille dots (loss, train) or half blocks (test) across at least two epochs; one
# epoch's points, the legend's marks or the setup screen stay far below these
MIN_LOSS_PIXELS, MIN_TRAIN_PIXELS, MIN_TEST_PIXELS = 300, 100, 300


def charts_shown(image) -> bool:
    """The loss line (cyan) on the left, train (orange) and test (green) accuracy lines on the right."""
    return (hue_pixels(image, LOSS_PLOT, CYAN) >= MIN_LOSS_PIXELS
            and hue_pixels(image, ACCURACY_PLOT, ORANGE) >= MIN_TRAIN_PIXELS
            and hue_pixels(image, ACCURACY_PLOT, GREEN) >= MIN_TEST_PIXELS)


def drawn(image) -> bool:
    """The app has drawn its screen: enough light text pixels, not the page's dark start."""
    bright = sum(times for (red, green, blue), times in _colours(image) if red + green + blue > 450)
    return bright > 2000


def wait_for(driver, condition, timeout: float, what: str):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.5).until(lambda d: condition(d))
    except TimeoutException:
        raise AssertionError(f"{what}: not within {timeout} s") from None


def screenshot_when(check):
    """A wait condition: the screenshot once check(screenshot) holds, else None (WebDriverWait polls again)."""
    def condition(driver):
        image = screenshot(driver)
        return image if check(image) else None
    return condition


def finished(run_dir: Path) -> bool:
    metrics = run_dir / METRICS_FILE
    return metrics.exists() and any(r["type"] == "end" for r in iter_records(metrics))


def test_the_app_in_a_browser_trains_and_shows_its_charts(browser, tmp_path):
    from selenium.webdriver.common.by import By

    run_dir = tmp_path / "run"
    shutil.copytree(ROOT / "assets" / "mnist", tmp_path / "mnist")  # relative paths: the picture shows no machine's
    args = ("--data-dir", "mnist", "--run-dir", "run", "--model", "mlp",
            "--hidden", "64", "--optimizer", "adam", "--lr", "0.001", "--batch-size", "64", "--train-size", "2000",
            "--epochs", "3", "--device", "cpu")
    with served(*args, cwd=tmp_path) as server:
        browser.set_window_size(*SMALL_WINDOW)
        browser.get(server.url)
        wait_for(browser, lambda d: "-first-byte" in (d.find_element(By.TAG_NAME, "body").get_attribute("class") or ""),
                 PAGE_TIMEOUT_S, "the app's first bytes in the page")
        first = wait_for(browser, screenshot_when(drawn), PAGE_TIMEOUT_S,
                         "the app's first screen drawn at a small window size")
        fits = browser.execute_script("const s = document.querySelector('.xterm-screen').getBoundingClientRect();"
                                      "return s.right <= window.innerWidth && s.bottom <= window.innerHeight;")
        assert fits, "the terminal is larger than a small window"
        assert not charts_shown(first), "the chart check sees charts on the setup screen"
        browser.set_window_size(*WINDOW)
        browser.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys("s")
        wait_for(browser, lambda _: finished(run_dir), RUN_TIMEOUT_S, "the run's end record")
        final = wait_for(browser, screenshot_when(charts_shown), CHART_TIMEOUT_S,
                         "the loss and accuracy charts on the page")
        final.save(tmp_path / "browser.png")
    end = [r for r in iter_records(run_dir / METRICS_FILE) if r["type"] == "end"][-1]
    assert end["status"] == "finished", end
    if target := os.environ.get("MNIST_TUI_SCREENSHOT"):
        final.quantize(colors=32).save(target, optimize=True)
