"""The ABA litigation code set (UTBMS): task codes L100 to L500 and activity codes A101 to A111.

Shipped as data: billing systems and LEDES files expect exactly these codes and names.
"""

from __future__ import annotations

TASK_CODES: dict[str, str] = {
    "L100": "Case Assessment, Development and Administration",
    "L110": "Fact Investigation/Development",
    "L120": "Analysis/Strategy",
    "L130": "Experts/Consultants",
    "L140": "Document/File Management",
    "L150": "Budgeting",
    "L160": "Settlement/Non-Binding ADR",
    "L190": "Other Case Assessment, Development and Administration",
    "L200": "Pre-Trial Pleadings and Motions",
    "L210": "Pleadings",
    "L220": "Preliminary Injunctions/Provisional Remedies",
    "L230": "Court Mandated Conferences",
    "L240": "Dispositive Motions",
    "L250": "Other Written Motions and Submissions",
    "L260": "Class Action Certification and Notice",
    "L300": "Discovery",
    "L310": "Written Discovery",
    "L320": "Document Production",
    "L330": "Depositions",
    "L340": "Expert Discovery",
    "L350": "Discovery Motions",
    "L390": "Other Discovery",
    "L400": "Trial Preparation and Trial",
    "L410": "Fact Witnesses",
    "L420": "Expert Witnesses",
    "L430": "Written Motions and Submissions",
    "L440": "Other Trial Preparation and Support",
    "L450": "Trial and Hearing Attendance",
    "L460": "Post-Trial Motions and Submissions",
    "L470": "Enforcement",
    "L500": "Appeal",
    "L510": "Appellate Motions and Submissions",
    "L520": "Appellate Briefs",
    "L530": "Oral Argument",
}

# Phase codes (L100, L200, ...) group tasks; time is billed to the tasks under them.
PHASES = frozenset(code for code in TASK_CODES if code.endswith("00"))

ACTIVITY_CODES: dict[str, str] = {
    "A101": "Plan and prepare for",
    "A102": "Research",
    "A103": "Draft/revise",
    "A104": "Review/analyze",
    "A105": "Communicate (in firm)",
    "A106": "Communicate (with client)",
    "A107": "Communicate (other outside counsel)",
    "A108": "Communicate (other external)",
    "A109": "Appear for/attend",
    "A110": "Manage data/files",
    "A111": "Other",
}


def is_billable_task(code: str) -> bool:
    """A task code time can be billed to (not a phase heading)."""
    return code in TASK_CODES and code not in PHASES


def is_activity(code: str) -> bool:
    return code in ACTIVITY_CODES
