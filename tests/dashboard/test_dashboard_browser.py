"""The dashboard in a real headless Chromium (Debian's chromium + chromedriver, through Selenium):
the runs table, a run page with its chart drawn, a value changing while a run writes, the CSV
download, the compare view and the architecture drawing. Screenshots go to docs/images/ when
NASPLUG_SCREENSHOTS is set (how the committed ones were made)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
webdriver = pytest.importorskip("selenium.webdriver")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from nasplug.core.store import EvaluationRecord, Store  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs chromium and chromedriver (apt install chromium chromium-driver)")
SHOTS = os.environ.get("NASPLUG_SCREENSHOTS")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live(dashboard_store, tmp_path_factory):
    """The dashboard served by uvicorn in a thread over a copy of the prepared store."""
    import uvicorn

    from nasplug.core.dashboard.app import create_app

    path = tmp_path_factory.mktemp("live") / "runs.db"
    shutil.copy(dashboard_store, path)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(path), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", path
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path_factory.mktemp("downloads")
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.downloads = downloads
    yield driver
    driver.quit()


def _wait(driver, condition, timeout=20):
    return WebDriverWait(driver, timeout).until(condition)


def _shot(driver, name):
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(SHOTS) / f"dashboard_{name}.png"))


def _row(driver, name):
    return _wait(driver, lambda d: next((r for r in d.find_elements(By.CSS_SELECTOR, "#runs tbody tr")
                                          if name in r.text), None))


def test_runs_table_then_a_run_page_with_its_chart(live, browser):
    url, _ = live
    browser.get(url + "/")
    rea = _row(browser, "rea-0")
    cells = [c.text for c in rea.find_elements(By.TAG_NAME, "td")]
    assert cells[2] == "search" and cells[5] == "finished" and cells[6] == "40 / 40"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#runs tbody tr")) == 6
    _shot(browser, "runs")
    browser.find_element(By.ID, "f-kind").send_keys("predict")
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#runs tbody tr")) == 1)
    browser.get(url + "/")
    _row(browser, "rea-0").find_elements(By.TAG_NAME, "td")[1].click()
    _wait(browser, EC.text_to_be_present_in_element((By.ID, "run-title"), "rea-0"))
    # Plotly drew the best-so-far chart: an SVG with a line path
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#chart-a svg.main-svg .scatterlayer path.js-line"))
    assert "best so far" in browser.find_element(By.ID, "chart-a").text
    rows = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#evals tbody tr"))
    stored = int(browser.find_element(By.ID, "run-evaluations").text)  # 40 queries and the repeats answered free
    assert stored >= 40 and len(rows) == min(50, stored) and rows[0].find_elements(By.TAG_NAME, "td")[0].text == "0"
    assert "[search]" in browser.find_element(By.ID, "config").text
    _shot(browser, "run")


def test_a_value_changes_while_a_run_writes(live, browser):
    url, path = live
    browser.get(url + "/")
    rid = int(_row(browser, "rea-1").find_elements(By.TAG_NAME, "td")[1].text)
    browser.get(f"{url}/#/run/{rid}")
    count = _wait(browser, lambda d: d.find_element(By.ID, "run-evaluations").text or None)
    with Store(path) as store:
        store.add_evaluation(EvaluationRecord(rid, int(count), "9999", 1e6, 1e6, 0.0, 0.0, {}))
    _wait(browser, EC.text_to_be_present_in_element((By.ID, "run-evaluations"), str(int(count) + 1)))
    # the best-so-far chart follows: its y range now reaches the new best
    _wait(browser, lambda d: "1M" in d.find_element(By.ID, "chart-a").text or "1e+6" in d.find_element(By.ID, "chart-a").text
          or "1000000" in d.find_element(By.ID, "chart-a").text.replace(",", ""))


def test_csv_download(live, browser):
    url, _ = live
    browser.get(url + "/")
    rid = int(_row(browser, "forest").find_elements(By.TAG_NAME, "td")[1].text)
    browser.get(f"{url}/#/run/{rid}")
    _wait(browser, EC.element_to_be_clickable((By.ID, "csv"))).click()
    target = browser.downloads / f"run{rid}_evaluations.csv"
    _wait(browser, lambda d: target.exists() and target.stat().st_size > 0 and not list(browser.downloads.glob("*.crdownload")))
    lines = target.read_text().splitlines()
    assert lines[0] == "seq,arch,value,fitness,cost,wall,info" and len(lines) == 61


def test_predict_and_score_charts_and_the_architecture(live, browser):
    url, _ = live
    browser.get(url + "/")
    rid = int(_row(browser, "params").find_elements(By.TAG_NAME, "td")[1].text)
    browser.get(f"{url}/#/run/{rid}")
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#chart-a .scatterlayer .point")) == 60)
    assert "Spearman" in browser.find_element(By.ID, "chart-a").text
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#evals tbody tr"))[0].click()
    svg = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#arch-svg"))
    texts = [t.text for t in svg[0].find_elements(By.TAG_NAME, "text")]
    assert texts[0] == "input" and texts[-1] == "output" and len(texts) == 8
    _shot(browser, "score")


def test_compare_view_overlays_runs(live, browser):
    url, _ = live
    browser.get(url + "/")
    ids = [int(_row(browser, name).find_elements(By.TAG_NAME, "td")[1].text) for name in ("rea-0", "rea-1")]
    browser.get(f"{url}/#/compare?runs={ids[0]},{ids[1]}")
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#chart-cmp .scatterlayer .trace")) == 4)  # 2 runs, band, mean
    legend = browser.find_element(By.ID, "chart-cmp").text
    assert f"run {ids[0]}" in legend and "mean" in legend
    _shot(browser, "compare")


def test_a_oneshot_run_shows_training_curves_and_the_op_distribution(live, browser):
    url, _ = live
    browser.get(url + "/")
    rid = int(_row(browser, "supernet").find_elements(By.TAG_NAME, "td")[1].text)
    browser.get(f"{url}/#/run/{rid}")
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#chart-b .scatterlayer .trace")) == 5)  # one line per op
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#chart-c .heatmaplayer image, #chart-c .hm image"))
    assert "nor_conv_3x3" in browser.find_element(By.ID, "chart-b").text
    _shot(browser, "oneshot")
