"""Vocabularies and text templates: names, companies, ticket and conversation wording.

Text is assembled by vectorised string concatenation over template/slot indices, so realism
costs no per-row Python. Wording follows sentiment: templates are grouped by tone and the
tone is chosen from the latent sentiment.
"""

from __future__ import annotations

import numpy as np

FIRST_NAMES = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard "
    "Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa Anthony Betty Mark "
    "Sandra Donald Ashley Steven Kimberly Andrew Emily Paul Donna Joshua Michelle Kenneth Carol Kevin "
    "Amanda Brian Melissa George Deborah Timothy Stephanie Ronald Rebecca Jason Sharon Edward Laura "
    "Jeffrey Cynthia Ryan Amy Jacob Angela Gary Helen Nicholas Anna Eric Brenda Jonathan Pamela Priya "
    "Wei Yuki Omar Fatima Lars Ingrid Mateo Sofia Chen Aisha Diego Lucia Hiro Amara Noah Elena Ravi Zoe"
).split()
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill "
    "Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Patel Kim Chen "
    "Schmidt Muller Rossi Silva Kowalski Novak Larsen Okafor Tanaka Haddad Ivanova Dubois Costa"
).split()
COMPANY_A = (
    "Blue Summit Apex Nova Bright Iron Silver Green Quantum Polar Red Oak Swift Crystal Atlas Vertex "
    "Harbor Pioneer Northwind Stellar Cedar Granite Falcon Lumen Orbit Prairie Sierra Tidal Union"
).split()
COMPANY_B = (
    "Systems Labs Works Dynamics Logistics Partners Health Foods Energy Media Robotics Capital "
    "Solutions Networks Foundry Retail Analytics Motors Pharma Studios"
).split()
COMPANY_C = ("Inc", "LLC", "Ltd", "GmbH", "Group", "Co", "Corp", "SA")

INDUSTRIES = (
    "Software",
    "Financial Services",
    "Healthcare",
    "Retail",
    "Manufacturing",
    "Education",
    "Logistics",
    "Media",
    "Real Estate",
    "Energy",
    "Telecommunications",
    "Hospitality",
)
COUNTRIES = ("US", "US", "US", "GB", "DE", "FR", "CA", "AU", "NL", "SE", "ES", "IN", "BR", "JP")
JOB_TITLES = (
    ("Intern", "Analyst", "Coordinator", "Specialist"),
    ("Manager", "Senior Manager", "Team Lead", "Product Manager"),
    ("Director", "Head of Operations", "Head of Sales", "VP Marketing"),
    ("VP Engineering", "CTO", "COO", "CEO", "Founder"),
)
"""By seniority band; seniority correlates weakly with propensity (decision makers buy)."""
FUNDING_STAGES = ("Bootstrapped", "Seed", "Series A", "Series B", "Series C+", "Public")

LEAD_SOURCES = (
    "website",
    "referral",
    "email_campaign",
    "paid_ads",
    "social",
    "webinar",
    "content",
    "sms",
    "event",
    "partner",
    "cold_outreach",
)
SOURCE_CAMPAIGN_TYPE = {
    "email_campaign": "EMAIL",
    "paid_ads": "PAID_ADS",
    "social": "SOCIAL",
    "webinar": "WEBINAR",
    "content": "CONTENT",
    "sms": "SMS",
}
UTM = {
    "website": ("google", "organic"),
    "referral": ("referral", "referral"),
    "email_campaign": ("newsletter", "email"),
    "paid_ads": ("google", "cpc"),
    "social": ("linkedin", "social"),
    "webinar": ("webinar", "event"),
    "content": ("blog", "content"),
    "sms": ("sms", "sms"),
    "event": ("tradeshow", "event"),
    "partner": ("partner", "referral"),
    "cold_outreach": ("outbound", "email"),
}
PAGES = (
    "/",
    "/pricing",
    "/product",
    "/features",
    "/customers",
    "/blog/roi-guide",
    "/docs/getting-started",
    "/integrations",
    "/security",
    "/demo",
    "/contact",
    "/blog/benchmark-report",
)
DOCUMENTS = (
    "Pricing sheet",
    "ROI calculator",
    "Security whitepaper",
    "Case study: Northwind",
    "Implementation guide",
    "Product overview deck",
    "Analyst report",
)
FORMS = ("contact-sales", "demo-request", "newsletter", "ebook-download", "webinar-signup", "trial-signup")

PRODUCTS = (
    ("Starter Plan", "Subscription", 49.0),
    ("Professional Plan", "Subscription", 199.0),
    ("Enterprise Plan", "Subscription", 899.0),
    ("Analytics Add-on", "Add-on", 149.0),
    ("Automation Add-on", "Add-on", 99.0),
    ("Extra Seats (10)", "Seats", 120.0),
    ("Premium Support", "Support", 299.0),
    ("Onboarding Package", "Services", 2500.0),
    ("Data Migration", "Services", 4000.0),
    ("Training Workshop", "Services", 1800.0),
    ("API Access", "Add-on", 249.0),
    ("Compliance Pack", "Add-on", 399.0),
)
FEATURES = (
    "dashboard",
    "reports",
    "automation",
    "integrations",
    "export",
    "search",
    "alerts",
    "api",
    "mobile",
    "billing",
)
LOST_REASONS = (
    "Price too high",
    "Chose a competitor",
    "No budget this year",
    "No decision / went dark",
    "Bad timing",
    "Missing features",
    "Lost our champion",
)
TICKET_CATEGORIES = ("bug", "how_to", "performance", "account", "integration", "billing", "feature_request")

TICKET_SUBJECTS: dict[str, tuple[str, ...]] = {
    "bug": (
        "{f} shows an error after the last update",
        "Cannot save changes in {f}",
        "{f} page crashes on load",
        "Wrong totals in {f}",
    ),
    "how_to": ("How do I set up {f}?", "Question about configuring {f}", "Where can I change {f} settings?"),
    "performance": ("{f} is very slow today", "Timeouts when opening {f}", "{f} takes minutes to load"),
    "account": (
        "Need to reset a user's password",
        "Add a new admin to our account",
        "SSO login fails for our team",
    ),
    "integration": ("Sync with our CRM stopped", "Webhook to {f} not firing", "API returns 401 for {f}"),
    "billing": (
        "Payment failed for our last invoice",
        "Request to downgrade our plan",
        "Invoice amount is wrong",
        "Card declined on renewal",
        "Please cancel the {p} add-on",
    ),
    "feature_request": (
        "Feature request: bulk edit in {f}",
        "Can {f} support custom fields?",
        "Suggestion for {f}",
    ),
}
TICKET_BODY = {
    "pos": (
        "Hi team, quick question when you have a moment. Thanks, we love {p}!",
        "Hello, small thing: {s_lower}. No rush, everything else works great.",
    ),
    "neu": (
        "Hi, {s_lower}. Could you take a look? Thanks.",
        "Hello support, we noticed that {s_lower}. Please advise.",
        "Hi, {s_lower}. This affects a few users on our side.",
    ),
    "neg": (
        "This is the third time this month: {s_lower}. We are losing patience.",
        "Urgent: {s_lower}. Our team cannot work and nobody has answered yet.",
        "Very disappointed. {s_lower} and we pay for {p}. Please escalate.",
        "{s_lower}. If this is not fixed soon we will have to reconsider our contract.",
    ),
}
CSAT_COMMENTS = {
    1: ("Slow and unhelpful.", "Still not fixed.", "Took days to get an answer."),
    2: ("Resolved eventually, but it took too long.", "Had to explain the issue three times."),
    3: ("OK.", "Fine, thanks.", None),
    4: ("Good support, thanks!", "Quick answer.", None),
    5: ("Excellent, fixed in minutes!", "Great help from the team.", None),
}

CONVERSATION_SUBJECTS = (
    "Quarterly business review",
    "Renewal discussion",
    "Onboarding check-in",
    "Feature walkthrough",
    "Usage review",
    "Expansion opportunity",
    "Billing question",
    "Product feedback",
)
MESSAGES_OUT = (
    "Hi {n}, checking in on how {p} is working for your team.",
    "Hi {n}, do you have 30 minutes next week for a quick review?",
    "Following up on my last note about {p} - any thoughts?",
    "Sharing a short guide on getting more out of {f}.",
    "Your renewal is coming up; happy to walk through options.",
)
MESSAGES_IN = {
    "pos": (
        "Things are going great, the team uses {f} every day.",
        "Thanks! Let's set up time to talk about adding seats.",
        "Really happy with {p}, the new {f} saves us hours.",
    ),
    "neu": (
        "Sure, next Tuesday works.",
        "Thanks for the update, we'll review internally.",
        "We're mostly using {f} for now.",
    ),
    "neg": (
        "Honestly we're not seeing much value from {p} lately.",
        "We are reviewing our budget and may need to cut tools.",
        "The {f} issues are frustrating our users.",
        "We've had too many problems, considering alternatives.",
    ),
}
ACTIVITY_TEXT = {
    "EMAIL_SENT": "Sent follow-up e-mail",
    "EMAIL_OPENED": "Opened e-mail",
    "EMAIL_CLICKED": "Clicked a link in e-mail",
    "CALL_MADE": "Outbound call",
    "CALL_ANSWERED": "Call connected",
    "MEETING_SCHEDULED": "Meeting scheduled",
    "MEETING_COMPLETED": "Meeting held",
    "FORM_SUBMITTED": "Submitted a web form",
    "WEBSITE_VISIT": "Visited the website",
    "DOCUMENT_VIEWED": "Viewed a document",
    "PROPOSAL_SENT": "Proposal sent",
    "CONTRACT_SENT": "Contract sent",
    "NOTE_ADDED": "Note added",
}
NOTES = (
    "Interested, wants pricing for next quarter",
    "Budget approval pending",
    "Asked for a security review",
    "Evaluating two other vendors",
    "Champion is the head of operations",
    "Needs SSO and audit log",
    "Timeline slipped, follow up next month",
    "Very engaged, asked for references",
)
EMAIL_SUBJECTS = (
    "Quick question about your {i} workflow",
    "Following up on our call",
    "Resources you asked for",
    "Your {i} benchmark report",
    "Can we find 20 minutes?",
    "Invitation: product webinar",
)


def fill(templates: tuple[str, ...], idx: np.ndarray, **slots: np.ndarray) -> np.ndarray:
    """templates[idx] with `{name}` slots replaced row-wise by slots[name] (vectorised)."""
    out = np.asarray(templates, dtype=object)[idx].astype(str)
    for name, values in slots.items():
        token = "{" + name + "}"
        if not any(token in t for t in templates):
            continue
        parts = np.char.partition(out, token)
        has = parts[:, 1] == token
        joined = np.char.add(np.char.add(parts[:, 0], np.asarray(values, dtype=str)), parts[:, 2])
        out = np.where(has, joined, out)
    return out


def person_names(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    first = np.asarray(FIRST_NAMES)[rng.integers(0, len(FIRST_NAMES), n)]
    last = np.asarray(LAST_NAMES)[rng.integers(0, len(LAST_NAMES), n)]
    return first, last


def company_names(rng: np.random.Generator, n: int) -> np.ndarray:
    a = np.asarray(COMPANY_A)[rng.integers(0, len(COMPANY_A), n)]
    b = np.asarray(COMPANY_B)[rng.integers(0, len(COMPANY_B), n)]
    c = np.asarray(COMPANY_C)[rng.integers(0, len(COMPANY_C), n)]
    return np.char.add(np.char.add(np.char.add(a, " "), np.char.add(b, " ")), c)


def emails(first: np.ndarray, last: np.ndarray, domain_base: np.ndarray, serial: np.ndarray) -> np.ndarray:
    """first.last.<serial>@<company>.example: unique per tenant by construction (serial)."""
    local = np.char.add(np.char.add(np.char.lower(first), "."), np.char.lower(last))
    local = np.char.add(np.char.add(local, "."), serial.astype(str))
    dom = np.char.replace(np.char.lower(domain_base), " ", "")
    return np.char.add(np.char.add(local, "@"), np.char.add(dom, ".example"))


def phones(rng: np.random.Generator, n: int) -> np.ndarray:
    a = rng.integers(200, 999, n).astype(str)
    b = rng.integers(200, 999, n).astype(str)
    c = np.char.zfill(rng.integers(0, 9999, n).astype(str), 4)
    return np.char.add(np.char.add(np.char.add("+1-", a), np.char.add("-", b)), np.char.add("-", c))
