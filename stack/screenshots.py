"""Screenshot harness: start the app, sign in with headless Chromium, visit every page at
desktop and phone width, check what rendered, save PNGs.

Debian's /usr/bin/chromium is driven by Playwright's Python package (no browser download),
with a fresh profile per run. Pages are reached by clicking the sidebar menu, as a manager
would: a Streamlit session (and so the sign-in) lives as long as the browser tab's
connection. The phone shot is the same session with a phone-sized viewport.

    python -m stack.screenshots --out docs/screenshots --email ... --password ...
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from app.nav import PAGES

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

CHROMIUM = os.environ.get("CRM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP: ViewportSize = {"width": 1366, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
MAX_HEIGHT = 6000


@dataclass
class Shot:
    title: str
    width: str  # desktop | phone
    path: Path | None
    charts: int
    empty_states: int
    errors: list[str] = field(default_factory=list)
    blank: bool = False
    truncated: list[str] = field(default_factory=list)
    """Tile labels and values cut off with an ellipsis (their text is wider than the tile)."""


def start_app(port: int, env: dict[str, str] | None = None, log: Path | None = None) -> subprocess.Popen:
    """`streamlit run` headless on 127.0.0.1:`port` (a child of this process); waits for health."""
    from app.cli import HEALTH_PATH, streamlit_argv
    from stack.procs import wait_http_ok

    out = log.open("ab") if log else subprocess.DEVNULL
    proc = subprocess.Popen(
        streamlit_argv(port),
        env={**os.environ, **(env or {})},
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_http_ok(f"http://127.0.0.1:{port}{HEALTH_PATH}", 60, proc)
    return proc


def _settle(page, title: str, timeout_ms: int = 120_000) -> None:
    """Wait until the page's title shows, the script stopped running and charts drew."""
    page.wait_for_function(
        """(title) => {
            const h = [...document.querySelectorAll('h1')].some(e => e.innerText.trim().startsWith(title));
            const running = document.querySelector('[data-testid="stStatusWidget"]');
            const busy = running && /Stop|Running|Connecting/i.test(running.innerText || '');
            const stale = document.querySelector('[data-stale="true"]');
            const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')];
            const drawn = charts.every(c => c.querySelector('.main-svg'));
            return h && !busy && !stale && drawn;
        }""",
        arg=title,
        timeout=timeout_ms,
    )
    page.wait_for_timeout(900)  # plotly transitions, fonts


def _truncated(page) -> list[str]:
    """The KPI tiles' labels and values whose text overflows their box (shown cut with "…")."""
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll(
                        '[data-testid="stMetricValue"], [data-testid="stMetricLabel"]')]
                .flatMap(m => [m, ...m.querySelectorAll('*')])
                .filter(e => e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1)
                .map(e => e.innerText.trim())"""
        )
    )


def _inspect(page) -> tuple[int, int, list[str]]:
    charts = page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                .filter(c => c.getBoundingClientRect().height > 80 && c.querySelector('.main-svg')
                             && c.querySelectorAll('.trace, .pielayer .slice, .funnellayer .trace').length > 0)
                .length"""
    )
    empties = page.locator('[data-testid="stAlertContentInfo"]').count()
    errors = [
        e.inner_text()
        for e in page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').all()
    ]
    return int(charts), int(empties), errors


def _blank(png: bytes) -> bool:
    """A screenshot with (almost) one colour: nothing rendered."""
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("L").resize((64, 64))
    lo, hi = cast(tuple[int, int], img.getextrema())  # one band ("L"): (min, max)
    return hi - lo < 10


def _save_small(png: bytes, path: Path) -> None:
    """A 128-colour PNG: a third of the size, same look for dashboards (flat colours)."""
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    img.save(path, optimize=True)


def capture(
    base: str, email: str, password: str, out: Path | None, titles: list[str] | None = None
) -> list[Shot]:
    """Sign in and shoot every page (or `titles`) at desktop and phone width."""
    from playwright.sync_api import sync_playwright

    if out:
        out.mkdir(parents=True, exist_ok=True)
    shots: list[Shot] = []
    with tempfile.TemporaryDirectory(prefix="crm-chromium-") as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport=DESKTOP,
            device_scale_factor=1,
        )
        # generous waits: on a loaded machine (2 cores, several builds) the first script run
        # alone can take longer than Playwright's default 30 s
        ctx.set_default_timeout(120_000)
        try:
            page = ctx.new_page()
            page.goto(base, wait_until="domcontentloaded", timeout=120_000)
            page.get_by_role("textbox", name="E-mail").fill(email)
            page.get_by_role("textbox", name="Password").fill(password)
            page.get_by_role("button", name="Sign in").click()
            _settle(page, "Overview")
            for _, title, _ in PAGES:
                if titles and title not in titles:
                    continue
                page.set_viewport_size(DESKTOP)
                nav = page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True)
                nav.click()
                _settle(page, title)
                for width, size in (("desktop", DESKTOP), ("phone", PHONE)):
                    page.set_viewport_size(size)
                    page.wait_for_timeout(700)
                    _settle(page, title)
                    # Streamlit scrolls inside its main section: grow the viewport to the content
                    height = page.evaluate(
                        """() => { const m = document.querySelector('[data-testid="stMain"]')
                                     || document.querySelector('section.main') || document.body;
                                     return m.scrollHeight; }"""
                    )
                    full: ViewportSize = {
                        "width": size["width"],
                        "height": int(min(max(height + 40, size["height"]), MAX_HEIGHT)),
                    }
                    if full != size:
                        page.set_viewport_size(full)
                        page.wait_for_timeout(700)
                        _settle(page, title)
                    png = page.screenshot(full_page=True)
                    charts, empties, errors = _inspect(page)
                    path = None
                    if out:
                        slug = title.lower().replace(" & ", "-").replace(" ", "-")
                        path = out / f"{slug}-{width}.png"
                        _save_small(png, path)
                    shots.append(
                        Shot(
                            title,
                            width,
                            path,
                            charts,
                            empties,
                            errors,
                            _blank(png),
                            sorted(set(_truncated(page))),
                        )
                    )
        finally:
            ctx.close()
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--url", help="a running app; default: the demo's (`make app`), else start one")
    parser.add_argument("--email", help="default: the demo manager of the first tenant")
    parser.add_argument("--password", help="default: the demo password in .crm/env")
    args = parser.parse_args()

    from crm.db import database_url
    from crm.settings import get_settings
    from stack.demo_logins import demo_password, demo_sign_in
    from stack.procs import free_port, read_record, record_alive, terminate

    home = get_settings().home
    email, password = args.email, args.password
    if not email or not password:
        password = password or demo_password(home)
        logins = demo_sign_in(database_url(), password)
        if not logins:
            raise SystemExit("no tenant managers: seed the world first (make demo)")
        email = email or logins[0].email
    proc = None
    base = args.url
    if not base:
        rec = read_record(home, "app")
        if rec is not None and record_alive(rec) and rec.url:
            base = rec.url
        else:
            port = free_port()
            proc = start_app(port)
            base = f"http://127.0.0.1:{port}"
    try:
        bad = 0
        for s in capture(base, email, password, args.out):
            bad += bool(s.errors or s.blank)
            print(
                f"{s.title:22} {s.width:8} charts={s.charts} empty={s.empty_states} errors={len(s.errors)} {s.path}"
            )
        if bad:
            raise SystemExit(f"{bad} screenshots show errors or nothing")
    finally:
        if proc is not None:
            terminate(proc.pid)


if __name__ == "__main__":
    main()
