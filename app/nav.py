"""The dashboards' pages, in menu order: (file under app/views, title, icon)."""

from __future__ import annotations

from pathlib import Path

VIEWS = Path(__file__).resolve().parent / "views"
ENTRYPOINT = Path(__file__).resolve().parent / "streamlit_app.py"

PAGES: list[tuple[str, str, str]] = [
    ("overview.py", "Overview", ":material/dashboard:"),
    ("pipeline.py", "Pipeline & forecast", ":material/trending_up:"),
    ("leads.py", "Leads", ":material/person_search:"),
    ("lead.py", "Lead", ":material/person:"),
    ("deal.py", "Deal", ":material/handshake:"),
    ("customers.py", "Customers", ":material/favorite:"),
    ("customer.py", "Customer 360", ":material/account_circle:"),
    ("segments.py", "Segments", ":material/group_work:"),
    ("attribution.py", "Attribution", ":material/share:"),
    ("campaigns.py", "Campaigns", ":material/campaign:"),
    ("integrations.py", "Integrations", ":material/hub:"),
    ("operations.py", "Operations", ":material/monitor_heart:"),
]


def url_path(file: str) -> str:
    """The page's URL path (`/leads`), used by links and the screenshot harness."""
    return file.removesuffix(".py")


def view_path(title: str) -> str:
    """`views/<file>` of the page with this title (what AppTest.switch_page takes)."""
    return next(f"views/{f}" for f, t, _ in PAGES if t == title)
