"""The cue patterns of each sales signal, kept apart from the matching code so the lexicon can
be read and reviewed as data. Every pattern is a case-insensitive regular expression; `base`
is the confidence a plain match earns (strong, unambiguous phrasing scores higher).

The patterns were written from B2B sales language in general and checked against the
development part of the labelled set only (the held-out part measures them).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cue:
    """One pattern of a signal: the value it gives (a kind of buying signal, an objection
    type...), its regular expression and its base confidence."""

    value: str
    pattern: str
    base: float = 0.75


DEFAULT_COMPETITORS: tuple[str, ...] = (
    "Salesforce",
    "HubSpot",
    "Pipedrive",
    "Zoho",
    "Microsoft Dynamics",
    "Dynamics 365",
    "Freshsales",
    "Freshworks",
    "SugarCRM",
    "Insightly",
    "Zendesk Sell",
    "Attio",
    "Keap",
    "Copper CRM",
    "monday.com",
    "Close.com",
)
"""CRM vendors every tenant's conversations are checked for; a tenant adds its own with the
`conversation_competitors` key of `crm.tenants.settings`."""

NEGATORS = (
    r"not|no|never|n't|without|hardly|neither|nor|nothing|none|cannot|can't|won't|don't|"
    r"doesn't|didn't|isn't|aren't|wasn't|no\s+longer|nobody"
)
"""Words that, shortly before a cue in the same clause, reverse it ("not ready to sign")."""

BUYING: tuple[Cue, ...] = (
    Cue(
        "ready_to_buy",
        r"\b(ready|prepared|keen|happy|good)\s+to\s+(sign|buy|purchase|proceed|move\s+forward|go\s+ahead|commit)",
        0.9,
    ),
    Cue(
        "ready_to_buy",
        r"\b(let's|lets|we'?d\s+like\s+to|we\s+want\s+to|we\s+will|we'll)\s+(move\s+forward|proceed|go\s+ahead|sign|buy|purchase)",
        0.85,
    ),
    Cue("ready_to_buy", r"\bgo(ing)?\s+ahead\s+with\b", 0.8),
    Cue(
        "ready_to_buy",
        r"\b(send|share|email)\s+(me\s+|us\s+)?(over\s+)?(the\s+|a\s+|your\s+)?(contract|order\s+form|msa|paperwork|agreement|docusign|sow)\b",
        0.85,
    ),
    Cue(
        "ready_to_buy",
        r"\b(signed\s+(and|the|it)|countersigned|sign(ing)?\s+(it|the\s+contract|the\s+order\s+form|today|this\s+week|by))\b",
        0.8,
    ),
    Cue(
        "ready_to_buy",
        r"\b((chosen|picked|selected)\s+(you|your)|preferred\s+vendor|good\s+to\s+go|let's\s+do\s+it|happy\s+to\s+go\s+with|ready\s+to\s+start|bill\s+us\s+for|^approved\b)",
        0.8,
    ),
    Cue("budget_approved", r"\bset\s+aside\s+[$€£]?\d", 0.8),
    Cue("expansion", r"\b(double|increase|grow)\s+our\s+(seat|licen[cs]e|user)\s+count", 0.8),
    Cue(
        "ready_to_buy",
        r"\b(verbal\s+(yes|approval|commit)|we'?re\s+in\b|you('ve|\s+have)\s+(won|got)\s+(us|the\s+deal))",
        0.85,
    ),
    Cue(
        "budget_approved",
        r"\bbudget\s+(is|has\s+been|was|got|now)\s+(approved|signed\s+off|allocated|confirmed|cleared|released)",
        0.9,
    ),
    Cue("budget_approved", r"\b(approved|secured|got|have)\s+(the\s+)?budget\b", 0.8),
    Cue(
        "budget_approved",
        r"\b(cfo|finance|board|leadership|management)\s+(has\s+)?(approved|signed\s+off|gave\s+the\s+green\s+light)",
        0.85,
    ),
    Cue(
        "expansion",
        r"\badd(ing)?\s+(another\s+|more\s+|\d+\s+(more\s+)?)?(seats|licen[cs]es|users|teams?)\b",
        0.8,
    ),
    Cue(
        "expansion", r"\b(upgrade|upgrading|expand|expanding|roll(ing)?\s+(it\s+)?out)\s+(to|across)\b", 0.75
    ),
    Cue(
        "procurement",
        r"\b(purchase\s+order|po\s+number|vendor\s+(form|onboarding|registration|setup)|security\s+questionnaire|procurement\s+(has|is|sent|needs))",
        0.75,
    ),
    Cue(
        "trial",
        r"\b(start|begin|kick\s+off|set\s+up|extend|run)\s+(a|the|our)\s+(paid\s+)?(trial|pilot|proof\s+of\s+concept|poc)\b",
        0.7,
    ),
    Cue("how_to_buy", r"\bhow\s+(do|would|can)\s+we\s+(buy|purchase|get\s+started|sign\s+up|order)", 0.8),
    Cue(
        "quote_request",
        r"\b(send|give|prepare|need|get)\s+(me\s+|us\s+)?(a|the|an\s+updated|a\s+formal|a\s+final)\s+(quote|proposal|pricing\s+proposal)\b",
        0.75,
    ),
)

OBJECTIONS: tuple[Cue, ...] = (
    # price
    Cue("price", r"\b(too|very|quite|rather|a\s+bit|really)\s+(expensive|pricey|costly|steep|high)\b", 0.85),
    Cue(
        "price",
        r"\b(price|pricing|cost|quote|rate|fee|fees)\s+(is|are|seems?|looks?)\s+(too\s+|a\s+bit\s+|very\s+|quite\s+)?(high|steep|expensive|much)\b",
        0.85,
    ),
    Cue("price", r"\b(out\s+of|over|above|beyond|exceeds?)\s+(our\s+|the\s+)?budget\b", 0.85),
    Cue("price", r"\b(can't|cannot|can\s+not)\s+afford\b", 0.9),
    Cue(
        "price",
        r"\b(budget\s+(is|was|has\s+been)\s+(tight|cut|frozen|slashed|limited)|no\s+budget|budget\s+freeze|cheaper\s+(option|alternative|elsewhere|quote)|(need|want)\s+a\s+(much\s+)?(bigger\s+|better\s+)?discount)",
        0.8,
    ),
    Cue(
        "price",
        r"\b((above|more\s+than)\s+(what\s+we|our)\s+(\w+\s+)?(budget|budgeted|pay|whole)|more\s+than\s+(double|twice)|(fraction|half|a\s+third)\s+(of\s+)?(the|your|what)\s+(price|cost|you('re|\s+are)\s+asking)|too\s+much\s+for|hoping\s+for\s+something\s+closer\s+to|at\s+that\s+price|budget\s+cuts?\b|hard\s+to\s+swallow)",
        0.8,
    ),
    Cue("price", r"\bhard\s+to\s+justify\s+the\s+(cost|price|spend)", 0.85),
    # timing
    Cue("timing", r"\bnot\s+(the\s+)?right\s+time\b", 0.85),
    Cue("timing", r"\b(not\s+a|no\s+longer\s+a|low)\s+priority\b", 0.8),
    Cue(
        "timing",
        r"\b(revisit|circle\s+back|come\s+back\s+to|pick\s+(this|it)\s+up)\b.{0,30}\b(next\s+(year|quarter|month)|in\s+(\w+\s+)?(months?|the\s+autumn|the\s+fall|spring|summer)|after\s+(summer|the\s+holidays|the\s+new\s+year)|later)\b",
        0.8,
    ),
    Cue(
        "timing",
        r"\b((wait|hold\s+off|pause|frozen)\s+(until|for)|hold\s+off|(can't|cannot|won't\s+be\s+able\s+to)\s+start\b.{0,40}\b(until|before)|down\s+our\s+(list\s+of\s+)?priorit)",
        0.8,
    ),
    Cue("timing", r"\b(put(ting)?|on|placed)\s+(this\s+|it\s+|everything\s+)?(on\s+)?hold\b", 0.8),
    Cue(
        "timing",
        r"\b(too\s+busy|bandwidth|swamped|hiring\s+freeze|reorg|re-org|freeze\s+until|not\s+until\s+next)\b",
        0.7,
    ),
    Cue(
        "timing",
        r"\b(push(ed)?|delay(ed)?|postpone(d)?|slip(ped)?)\b.{0,25}\b(to|until|into)\s+(next|q[1-4]|the\s+new\s+year|later)",
        0.8,
    ),
    # authority
    Cue(
        "authority",
        r"\b(need|have|has)\s+to\s+(check|run\s+(it|this)\s+by|talk\s+to|speak\s+(to|with)|get\s+(approval|sign-?off)\s+from|clear\s+(it|this)\s+with|loop\s+in|confirm\s+with)\s+(my|our|the)\s+(boss|manager|cfo|ceo|cto|cio|vp|director|legal|procurement|board|head|finance|team|leadership|it)",
        0.85,
    ),
    Cue(
        "authority",
        r"\b(not\s+my\s+(call|decision)|(don't|do\s+not)\s+have\s+(the\s+)?(authority|final\s+say|sign-?off)|decision\s+(is|sits|lies|rests)\s+with|above\s+my\s+pay\s+grade|final\s+say\s+(is|lies|sits)\s+with)",
        0.9,
    ),
    Cue(
        "authority",
        r"\b((has|have)\s+the\s+final\s+(say|word)|not\s+the\s+decision[-\s]maker|(team|committee|board|cfo|ceo|legal|procurement)\s+(has|have|needs?)\s+to\s+approve|(take|present|bring)\s+(this|it|the\s+business\s+case)\s+to\s+(our|the|my)\s+(steering\s+committee|leadership|board|exec|management|cfo|ceo)|before\s+approving|(managing\s+director|ceo|cfo|board|boss)\s+wants\s+to\s+(wait|hold\s+off))",
        0.8,
    ),
    Cue(
        "authority",
        r"\b(needs?|requires?)\s+(board|cfo|ceo|exec(utive)?|legal|procurement|committee)\s+(approval|sign-?off|review)",
        0.8,
    ),
    # need
    Cue(
        "need",
        r"\b(don't|do\s+not|doesn't|does\s+not)\s+(really\s+)?(need|see\s+(the\s+)?(need|value|point))\b",
        0.85,
    ),
    Cue(
        "need",
        r"\b(no\s+(real\s+)?(need|use\s+case)|not\s+(a\s+)?(good\s+)?fit|not\s+relevant\s+for\s+us|not\s+what\s+we('re|\s+are)\s+looking\s+for)\b",
        0.85,
    ),
    Cue(
        "need",
        r"\b(already\s+have\s+(a|an|something)|(happy|fine|ok|okay)\s+with\s+(our|the|what\s+we)\s+(current|existing|have|spreadsheets?)|spreadsheets?\s+(work|are)\s+(fine|enough))",
        0.75,
    ),
    Cue(
        "need",
        r"\b((isn't|is\s+not|not)\s+(a\s+)?(good\s+)?fit|not\s+sure\s+(this|it)\s+(solves|fits|helps)|(don't|do\s+not)\s+think\s+(we\s+need|it\s+fits|a\s+[\w\s]{0,20}fits)|problem\s+we\s+don't\s+(really\s+)?have)",
        0.8,
    ),
    Cue("need", r"\b(doesn't|does\s+not|won't|will\s+not)\s+(solve|fit|address|cover)\s+(our|the)", 0.8),
    # competitor (completed with the tenant's names at match time)
    Cue(
        "competitor",
        r"\b(already\s+(use|using|on)|signed\s+with|went\s+with|going\s+with|chose|decided\s+on|switching\s+to|renewed\s+with|locked\s+in\s+with|cheaper\s+with|offered\s+us)\s+{competitor}",
        0.85,
    ),
    Cue(
        "competitor",
        r"\b(pushing\s+(hard\s+)?(for|to\s+stay\s+on)|leaning\s+(toward|towards)|prefer|stay\s+on|just\s+use|switch\s+to)\s+{competitor}",
        0.8,
    ),
    Cue("competitor", r"{competitor}\s+(quoted|does\s+most|came\s+in|is\s+giving|gives|offers|offered)", 0.8),
    Cue(
        "competitor",
        r"{competitor}\s+(is|was|are)\s+(cheaper|offering|giving|quoted|less\s+expensive|half)",
        0.85,
    ),
    Cue(
        "competitor",
        r"\b(evaluating|comparing|looking\s+at|talking\s+to|demo(ing)?|trialing|trialling)\b.{0,40}{competitor}",
        0.7,
    ),
)
"""Objections by type: price, timing, authority, need, competitor."""

OBJECTION_DISMISSALS: tuple[str, ...] = (
    r"\b(price|pricing|cost|budget|timing|timeline|money)\s+(is|are|was|'s)?\s*(not|isn't|no\s+longer|never)\s+(an?\s+|the\s+)?(issue|problem|concern|blocker|obstacle)",
    r"\b(price|pricing|cost|budget|timing)\s+(works|is\s+fine|is\s+ok|looks\s+good|is\s+reasonable|is\s+fair)",
    r"\bno\s+(concerns?|issues?|problem)\s+(with|about|on)\s+(the\s+)?(price|pricing|cost|budget|timing)",
)
"""Phrases that take an objection back ("price isn't an issue")."""

PRICING: tuple[Cue, ...] = (
    Cue(
        "amount",
        r"(?:[$€£]\s?\d[\d,.]*\s?(?:k|m|bn|thousand|million)?|\b\d[\d,.]*\s?(?:k|m)?\s?(?:usd|eur|gbp|dollars|euros|pounds)\b)",
        0.9,
    ),
    Cue(
        "price_talk",
        r"\b(price|prices|pricing|priced|cost|costs|quote|quoted|discount(ed|s)?|per\s+(seat|user|licen[cs]e)|licen[cs]e\s+fees?|subscription\s+fee|invoice|billing|budget|roi|payment\s+terms|list\s+price|how\s+much|rate\s+card|expensive|cheaper|afford|charge|charged)\b",
        0.75,
    ),
    Cue("amount", r"\b(ten|fifteen|twenty|thirty|forty|fifty|hundred|\d+)\s+(thousand|grand)\b", 0.8),
)

TIMELINE: tuple[Cue, ...] = (
    Cue(
        "quarter",
        r"\b(q[1-4]|(first|second|third|fourth)\s+quarter|(this|next|last|end\s+of\s+(the|this|next)?)\s*quarter|quarter[-\s]end|eoq)\b",
        0.85,
    ),
    Cue(
        "relative",
        r"\b(next|this|coming|end\s+of\s+(the\s+|this\s+|next\s+)?)\s*(week|month|year|fiscal\s+year|fy|sprint)\b",
        0.85,
    ),
    Cue(
        "relative",
        r"\b(within|in)\s+(the\s+next\s+)?(\d+|a|one|two|three|four|six|a\s+couple\s+of|a\s+few)\s+(days?|weeks?|months?)\b",
        0.8,
    ),
    Cue(
        "relative",
        r"\b(tomorrow|tonight|yesterday|eod|eow|end\s+of\s+day|asap|((by|on|next|this)\s+)?(monday|tuesday|wednesday|thursday|friday))\b",
        0.75,
    ),
    Cue(
        "relative",
        r"\b(on\s+the\s+\d{1,2}(st|nd|rd|th)|last\s+(week|month|quarter|year)|(after|before|over)\s+the\s+(holidays|summer|new\s+year)|next\s+(spring|summer|autumn|fall|winter)|christmas|new\s+year|(for|over)\s+(two|three|\d+|a\s+few|several)\s+(days|weeks|months))\b",
        0.7,
    ),
    Cue(
        "date",
        r"\b((by|in|before|after|until|from|on|early|mid|late|end\s+of)\s+)?(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(t(ember)?)?|oct(ober)?|nov(ember)?|dec(ember)?)(\s+\d{1,2}(st|nd|rd|th)?)?(,?\s+20\d\d)?\b",
        0.8,
    ),
    Cue("date", r"\b(20\d\d-\d\d-\d\d|\d{1,2}/\d{1,2}(/\d{2,4})?)\b", 0.85),
    Cue(
        "relative",
        r"\b(fy|fiscal\s+year)\s?'?\d{2,4}\b|\b(go[-\s]live|launch|deadline|renewal\s+date|start\s+date|kick-?off)\b",
        0.6,
    ),
)

NEXT_STEPS: tuple[Cue, ...] = (
    Cue(
        "meeting",
        r"\b(schedule|book|set\s+up|arrange|organi[sz]e|put\s+together|find\s+time\s+for)\s+(a|the|another|our|some)\s+([\w-]+\s+){0,2}(call|demo|meeting|session|workshop|chat|time|deep\s+dive|walkthrough|kickoff)\b",
        0.85,
    ),
    Cue(
        "meeting",
        r"\b(kick\s+(it\s+)?off|what's\s+next|when\s+can\s+we\s+(schedule|start|meet|kick)|confirming\s+(our|the)\s+(call|meeting|demo)|put\s+me\s+in\s+touch|introduce\s+you|get\s+.{0,30}together\s+for\s+a\s+(call|meeting))\b",
        0.8,
    ),
    Cue(
        "meeting",
        r"\b(let's|let\s+us|can\s+we|could\s+we|shall\s+we|happy\s+to)\s+(meet|talk|hop\s+on|jump\s+on|sync|catch\s+up|reconvene|connect)\b",
        0.8,
    ),
    Cue(
        "meeting",
        r"\b(calendar\s+invite|sent\s+(you\s+)?an\s+invite|invite\s+(is\s+)?(on\s+its\s+way|sent)|booked\s+(a|the)\s+(call|demo|meeting))\b",
        0.85,
    ),
    Cue(
        "send_document",
        r"\b(i'll|i\s+will|we'll|we\s+will|will|going\s+to|let\s+me)\s+(send|share|forward|email|get\s+you|put\s+together|draft|prepare)\b",
        0.8,
    ),
    Cue(
        "send_document",
        r"\b(please|can\s+you|could\s+you|kindly)\s+(send|share|forward|email)\b|\bsend\s+(me|us)\s+(a|the)\b|\b(i'll|i\s+will|we'll)\s+(bring|introduce|set\s+up|have)\b",
        0.75,
    ),
    Cue(
        "follow_up",
        r"\b(follow[-\s]?up|get\s+back\s+to\s+you|circle\s+back|touch\s+base|check\s+in\s+(again|next))\b",
        0.7,
    ),
    Cue("follow_up", r"\bnext\s+steps?\b", 0.8),
    Cue(
        "internal_review",
        r"\b(i'll|i\s+will|we'll|we\s+will|going\s+to)\s+(review|discuss|run\s+(it|this)\s+by|loop\s+in|share\s+(it|this)\s+with|present\s+(it|this)\s+to)\b",
        0.75,
    ),
    Cue(
        "trial_start",
        r"\b(set\s+up|provision|spin\s+up|activate)\s+(the|a|your)\s+(trial|sandbox|pilot)\b",
        0.8,
    ),
)

INTENTS: dict[str, tuple[Cue, ...]] = {
    "cancellation": (
        Cue(
            "cancellation",
            r"\b(cancel(ling|ing|led|lation)?|terminate|termination|end\s+(our|the)\s+(contract|subscription|agreement))\b",
            0.9,
        ),
        Cue(
            "cancellation",
            r"\b((not|won't|will\s+not|don't|do\s+not)\s+(to\s+|be\s+)?(renew(ing)?|continuing)|unsubscrib\w*|stop\s+using|close\s+(our|my)\s+account|opt\s+out\s+of\s+(the\s+)?renewal|discontinue)\b",
            0.85,
        ),
    ),
    "complaint": (
        Cue(
            "complaint",
            r"\b(unacceptable|disappointed|disappointing|frustrated|frustrating|furious|terrible|awful|worst|ridiculous|fed\s+up|appalling)\b",
            0.85,
        ),
        Cue(
            "complaint",
            r"\b(not\s+happy|very\s+unhappy|unhappy\s+with|(keeps|kept)\s+(crashing|breaking|failing|going\s+down)|still\s+(broken|not\s+fixed|waiting)|escalat(e|ed|ing)|complain(t|ing)?|(poor|bad|slow)\s+(service|support|response|experience))\b",
            0.8,
        ),
        Cue(
            "complaint",
            r"\b((nobody|no\s+one)\s+(has\s+)?(replied|responded|answered|seems|got\s+back)|(charged|billed)\s+(us\s+)?(twice|for\s+seats)|asked\s+(three|several|multiple|many|\d+)\s+times|a\s+mess|never\s+got|broke\s+our|really\s+bad|different\s+answer|(has\s+been|was|is)\s+(poor|terrible|bad|awful))\b",
            0.75,
        ),
        Cue(
            "complaint",
            r"\b(again|third\s+time|second\s+time|for\s+days|for\s+weeks)\b.{0,40}\b(down|broken|failing|no\s+response|nobody)\b",
            0.7,
        ),
    ),
    "purchase": (
        Cue(
            "purchase",
            r"\b(we'd|we\s+would|we)\s+(like|want|need)\s+to\s+(buy|purchase|order|sign\s+up|subscribe|upgrade|add)\b",
            0.85,
        ),
        Cue(
            "purchase",
            r"\b(place\s+an\s+order|renew\s+(our|the)\s+(contract|subscription|licen[cs]es?)|get\s+(the|a)\s+contract\s+signed)\b",
            0.8,
        ),
    ),
    "support": (
        Cue(
            "support",
            r"\b(how\s+do\s+i|how\s+can\s+i|can't|cannot|unable\s+to|won't\s+let\s+me)\s+(log\s*in|sign\s+in|reset|export|import|configure|set\s+up|connect|integrate|access|find|change|add|remove|sync|see)\b",
            0.85,
        ),
        Cue(
            "support",
            r"\b(error|bug|not\s+working|doesn't\s+work|isn't\s+working|stopped\s+working|broken|crash(es|ed|ing)?|timeout|fails?\s+to|failing|password\s+reset|locked\s+out|api\s+key|sso)\b",
            0.75,
        ),
        Cue(
            "support",
            r"\b(keeps?\s+(appearing|happening|showing)|not\s+firing|spam\s+folders?|undo|why\s+can't\s+i|can't\s+i\s+(see|find|access)|how\s+do\s+i\s+\w+|showing\s+(old|last\s+week's|wrong))\b",
            0.75,
        ),
    ),
    "information": (
        Cue(
            "information",
            r"\b(do\s+you|do\s+customers|does\s+(it|your|the)|can\s+(it|your|reps|managers|users|we\s+(?!push|move|find|schedule|book|set|jump|hop|aim))|can\s+you\s+(?!send|forward|share|push|move|find|schedule|book|set|remind|put|break)|is\s+there|are\s+there|what('s|\s+is|\s+are|\s+does|\s+\w+\s+(comes?|do|does))|how\s+(is|does|do|much|many|long)|which)\b[^.?!]*\?",
            0.7,
        ),
        Cue(
            "information",
            r"\b(tell\s+me\s+more|more\s+(information|info|details)|learn\s+more|case\s+stud(y|ies)|documentation|datasheet|brochure|overview|interested\s+in\s+(learning|hearing|knowing|understanding))\b",
            0.75,
        ),
    ),
}
"""Intent cues, in the order they win when several match (a cancellation is one even if it
also asks a question)."""
