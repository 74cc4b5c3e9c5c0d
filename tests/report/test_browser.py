"""report.html in a real browser: headless Chromium loads it offline under its CSP with no
console error, and every chart SVG has a size on the page."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from report_hand import HOSTILE_NAMES, hand_data, hand_result

from soekpi.report.render import build_context, render_html

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
]
SIZES = (
    "JSON.stringify(Array.from(document.querySelectorAll('svg.chart')).map(s => {"
    "const r = s.getBoundingClientRect(); return [s.getAttribute('class'), r.width, r.height];}))"
)

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not on PATH (install it with: apt-get install -y chromium)",
)


class Cdp:
    """A minimal DevTools-protocol client over --remote-debugging-pipe (fds 3 and 4)."""

    def __init__(self, profile: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_chrome_r, from_chrome_w)]

        def wire() -> None:
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.proc = subprocess.Popen(
            [
                str(CHROMIUM),
                *FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            pass_fds=(3, 4, *high),
            preexec_fn=wire,
        )
        for fd in (to_chrome_r, from_chrome_w, *high):
            os.close(fd)
        self._buffer = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select(
                [self._from_chrome], [], [], max(0.0, deadline - time.monotonic())
            )
            assert ready, "chromium did not answer within 60 s"
            chunk = os.read(self._from_chrome, 65536)
            assert chunk, "chromium closed the DevTools pipe"
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(message))

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + 60
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next:
                assert "error" not in reply, reply
                return dict(reply.get("result", {}))
            self.events.append(reply)

    def wait_for(self, method: str) -> None:
        deadline = time.monotonic() + 60
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._read(deadline))

    def close(self) -> str:
        with contextlib.suppress(AssertionError):
            self.send("Browser.close")
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        return err.decode(errors="replace")


def _open(page: Path, profile: Path) -> tuple[list[list[Any]], list[str], str]:
    cdp = Cdp(profile)
    try:
        target = cdp.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            cdp.send(f"{domain}.enable", session=session)
        cdp.send("Page.navigate", {"url": page.as_uri()}, session=session)
        cdp.wait_for("Page.loadEventFired")
        sizes = json.loads(
            cdp.send(
                "Runtime.evaluate", {"expression": SIZES, "returnByValue": True}, session=session
            )["result"]["value"]
        )
        problems = [
            json.dumps(e["params"], ensure_ascii=False)
            for e in cdp.events
            if e.get("method") == "Runtime.exceptionThrown"
            or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
            or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")
        ]
    finally:
        stderr = cdp.close()
    return sizes, problems, stderr


@needs_chromium
@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_report_opens_offline_without_errors_and_charts_have_a_size(
    tmp_path: Path, language: str
) -> None:
    page = tmp_path / "report.html"
    data = hand_data(language, result=hand_result(HOSTILE_NAMES))
    page.write_text(render_html(build_context(data)), encoding="utf-8")
    sizes, problems, stderr = _open(page, tmp_path / "profile")
    assert problems == []
    ours = [line for line in stderr.splitlines() if "Uncaught" in line or "Refused to" in line]
    assert ours == []
    # one status bar, a trend per root KPI (4), the heatmap
    assert sorted(c for c, _, _ in sizes) == sorted(
        ["chart status-bar"] + ["chart trend"] * 4 + ["chart heatmap"]
    )
    assert all(w > 0 and h > 0 for _, w, h in sizes), sizes
