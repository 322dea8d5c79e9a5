"""zoning.report.browser: the kept headless Chromium prints as ``chromium --print-to-pdf``."""

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from zoning.report import browser

pytestmark = [
    pytest.mark.skipif(browser.chromium_path() is None, reason="no chromium"),
    pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed"),
]

PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
@page { size: A4; margin: 18mm; }
body { font-family: sans-serif; }
.band { background: #d9ead3; padding: 4mm; }
</style></head><body>
<h1>三线一单符合性分析</h1><p class="band">生态保护红线 · 30 m · {n}</p>
<div style="page-break-before: always">第二页</div>
</body></html>"""


@pytest.fixture
def fresh_browser():
    """No browser kept from another test, and none left for the next."""
    browser._close_at_exit()
    browser._BROWSER = None
    yield
    browser._close_at_exit()
    browser._BROWSER = None


def _page(tmp_path, n=1):
    path = tmp_path / f"page{n}.html"
    path.write_text(PAGE.replace("{n}", str(n)), encoding="utf-8")
    return path


def _pngs(pdf, out):
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(out)], check=True)
    return sorted(out.parent.glob(f"{out.name}-*.png"))


def test_prints_what_chromium_print_to_pdf_prints(fresh_browser, tmp_path):
    page = _page(tmp_path)
    ours = browser.print_pdf(page, tmp_path / "ours.pdf")
    cli = tmp_path / "cli.pdf"
    subprocess.run(
        [browser.chromium_path(), "--headless", "--no-sandbox", "--disable-gpu",
         f"--user-data-dir={tmp_path / 'profile'}", "--no-pdf-header-footer",
         f"--print-to-pdf={cli}", page.as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    a, b = _pngs(ours, tmp_path / "a"), _pngs(cli, tmp_path / "b")
    assert len(a) == len(b) == 2  # the page break, on A4
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert not list(tmp_path.glob(".*.tmp"))  # written whole, then renamed


def test_one_browser_prints_many_pages(fresh_browser, tmp_path):
    browser.print_pdf(_page(tmp_path, 1), tmp_path / "1.pdf")
    first = browser._BROWSER.process.pid
    browser.print_pdf(_page(tmp_path, 2), tmp_path / "2.pdf")
    assert browser._BROWSER.process.pid == first
    text = subprocess.run(["pdftotext", str(tmp_path / "2.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    assert "生态保护红线 · 30 m · 2" in text


def test_a_dead_browser_is_replaced(fresh_browser, tmp_path):
    browser.print_pdf(_page(tmp_path, 1), tmp_path / "1.pdf")
    dead = browser._BROWSER
    dead.process.kill()
    dead.process.wait(10)
    browser.print_pdf(_page(tmp_path, 2), tmp_path / "2.pdf")
    assert browser._BROWSER is not dead and browser._BROWSER.alive()
    assert (tmp_path / "2.pdf").read_bytes()[:5] == b"%PDF-"


def test_a_page_that_never_loads_times_out_and_closes_the_browser(fresh_browser, tmp_path):
    stuck = tmp_path / "stuck.html"
    stuck.write_text("<html><body><script>while (true) {}</script></body></html>")
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match=r"could not print .*in time"):
        browser.print_pdf(stuck, tmp_path / "stuck.pdf", timeout=3)
    assert time.monotonic() - t0 < 20
    assert browser._BROWSER is None  # closed: the next print starts a new one
    assert not (tmp_path / "stuck.pdf").exists()
    browser.print_pdf(_page(tmp_path), tmp_path / "ok.pdf")
    assert (tmp_path / "ok.pdf").read_bytes()[:5] == b"%PDF-"


def test_an_idle_browser_is_closed(fresh_browser, tmp_path, monkeypatch):
    monkeypatch.setattr(browser, "IDLE_S", 0.5)
    browser.print_pdf(_page(tmp_path), tmp_path / "1.pdf")
    kept = browser._BROWSER
    deadline = time.monotonic() + 15
    while browser._BROWSER is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert browser._BROWSER is None
    assert not kept.alive()


def test_without_chromium_the_error_says_what_to_install(fresh_browser, tmp_path, monkeypatch):
    monkeypatch.setattr(browser, "chromium_path", lambda: None)
    with pytest.raises(RuntimeError, match="install Debian 'chromium'"):
        browser.print_pdf(_page(tmp_path), tmp_path / "x.pdf")


def test_a_print_waits_for_a_busy_browser_no_longer_than_its_timeout(fresh_browser, tmp_path):
    browser._LOCK.acquire()  # another thread's print, holding the browser
    try:
        t0 = time.monotonic()
        with pytest.raises(RuntimeError, match="busy with other prints"):
            browser.print_pdf(_page(tmp_path), tmp_path / "x.pdf", timeout=0.5)
        assert time.monotonic() - t0 < 5
    finally:
        browser._LOCK.release()
    assert not (tmp_path / "x.pdf").exists()


def _ended_pid() -> int:
    """The process id of a process that has ended."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_profiles_left_by_ended_processes_are_removed(tmp_path):
    """A worker killed by force leaves its profile; the next browser's start removes it."""
    import os

    old = time.time() - 2 * browser._STALE_S
    ended, live = _ended_pid(), os.getpid()
    folders = {
        "left": tmp_path / f"ecozone-chromium-{ended}-abc",
        "recent": tmp_path / f"ecozone-chromium-{ended}-new",  # its Chromium may still end
        "live": tmp_path / f"ecozone-chromium-{live}-def",
        "other": tmp_path / "ecozone-chromium-xyz",  # not named by ecozone's pattern
    }
    for name, path in folders.items():
        (path / "Default").mkdir(parents=True)
        (path / "Default" / "Preferences").write_text("{}")
        if name != "recent":
            os.utime(path, (old, old))
    assert browser.remove_stale_profiles(tmp_path) == [folders["left"]]
    assert not folders["left"].exists()
    assert all(folders[k].exists() for k in ("recent", "live", "other"))


def test_a_new_browser_sweeps_and_names_its_profile(fresh_browser, tmp_path, monkeypatch):
    import os
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    old = time.time() - 2 * browser._STALE_S
    left = tmp_path / f"ecozone-chromium-{_ended_pid()}-abc"
    left.mkdir()
    os.utime(left, (old, old))
    b = browser.Browser(browser.chromium_path())
    try:
        assert not left.exists()
        mine = [p.name for p in tmp_path.glob("ecozone-chromium-*")]
        assert mine == [Path(b._profile).name]
        assert mine[0].startswith(f"ecozone-chromium-{os.getpid()}-")
    finally:
        b.close()
    assert not list(tmp_path.glob("ecozone-chromium-*"))
