"""The demo case: the example story of /work/shared/example-story.md, in our own words.

`seed(password)` writes it; `manage.py seed_demo` is the command around it. Running it again
changes nothing: every record is looked up by its natural key and written only when it is
missing, and the verification steps of a claim are taken only when that claim is created.

Statuses are reached through `cases.workflow` like everywhere else, so the demo obeys the
same rules as the newsroom (four-eyes, citations, independent sources or an override).

What the story does not say, the demo does not say either: the report gives no year, so the
desertion is `XXXX-05-09`; no publication dates or article addresses are invented (finding
and archiving the 161.ru original is one of the open tasks). The dates of our own newsroom's
work (when we read the reports, when we asked the ministry) are fixed demo dates.

Two outlets and their reports are not in the story and say so in their names and text
("demo illustration"): they show the Figures tab a report consistent with 161.ru's ten ("at
least ten") and one that contradicts it ("twelve", graded E), with publication days of their
own so that the chart has points.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import opening, workflow
from .enums import (
    CaseStatus,
    CitationRelation,
    CommentChannel,
    CommentOutcome,
    Credibility,
    FigureQualifier,
    GeoPrecision,
    IncidentLinkKind,
    Reliability,
    Role,
    Sensitivity,
    SourceKind,
    TaskState,
    VerificationStatus,
)
from .models import (
    Case,
    Citation,
    Claim,
    CommentRequest,
    Incident,
    IncidentLink,
    IncidentType,
    Membership,
    Source,
    SourceIdentity,
    Task,
)

CASE_SLUG = "rostov-training-ground-desertion"
CASE_TITLE = "Rostov training-ground desertion"
STAFF_GROUP = "Newsroom staff"
SITE_URL = "http://127.0.0.1:8000/"
ADMIN_URL = SITE_URL + "admin/"
CHANGE_REASON = "Demo data (seed_demo)"

UTC = dt.UTC


def _at(month: int, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    """A fixed moment of our demo newsroom's own work (never now(): the demo is repeatable)."""
    return dt.datetime(2025, month, day, hour, minute, tzinfo=UTC)


# --- people -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    description: str
    role: Role | None = None  # role in the demo case; None: not a member
    source_handler: bool = False
    is_staff: bool = False
    is_superuser: bool = False
    in_staff_group: bool = False
    desk_editor: bool = False  # may open cases (the group Desk editors: cases/opening.py)

    @property
    def email(self) -> str:
        return f"{self.username}@newsroom.example"


USERS = [
    DemoUser("admin", "Ada", "Admin", "superuser: runs the admin, not a member of the case",
             is_staff=True, is_superuser=True),
    DemoUser("editor", "Elena", "Editor",
             "editor of the case, staff (Newsroom staff group), desk editor: opens cases",
             role=Role.EDITOR, is_staff=True, in_staff_group=True, desk_editor=True),
    DemoUser("editor2", "Erik", "Second-Editor",
             "second editor of the case (gives four-eyes verdicts), desk editor: opens cases",
             role=Role.EDITOR, desk_editor=True),
    DemoUser("reporter", "Roman", "Reporter",
             "reporter and lead of the case, source handler; cannot open cases",
             role=Role.REPORTER, source_handler=True),
    DemoUser("viewer", "Vera", "Viewer", "viewer of the case (read only)", role=Role.VIEWER),
    DemoUser("outsider", "Oleg", "Outsider",
             "newsroom user with no membership: sees no case, cannot open one"),
]


# --- the case -----------------------------------------------------------------------------

CASE_SUMMARY = (
    "Ten men recruited from Russian prisons into the army are reported to have fled a "
    "training ground in Rostov region on 9 May (Victory Day) before being sent to the front. "
    "The account comes from the Rostov news site 161.ru, which relies on unnamed people in "
    "the military investigative bodies; we first read it in an English-language report by an "
    "independent Russian outlet in exile. Open questions: the year, the exact training "
    "ground, the fate of the four still at large. The Defence Ministry has not answered."
)

INCIDENT_TYPES = [
    ("desertion", "Desertion", "Soldiers leaving their unit or post without permission."),
    ("arrest", "Arrest or capture", "People detained, caught or arrested by the authorities."),
    ("manhunt", "Manhunt", "An ongoing search for people at large."),
    ("official-statement", "Official statement",
     "A statement, or a refusal to comment, by an official body."),
]


# --- sources ------------------------------------------------------------------------------

S_161 = "161.ru"
S_INSIDERS = "Investigators-R"
S_ISTORIES = "IStories"
S_MOD = "Russian Defence Ministry"
S_TASS = "TASS"
# The report the desk read: an English-language report of an outlet in exile, which relays
# 161.ru and the investigators 161.ru quotes (the story names no outlet: neither do we).
S_EXILE = "Outlet in exile (English report)"

SOURCES = [
    dict(
        name=S_161, kind=SourceKind.OUTLET, url="https://161.ru/", language="ru",
        country="RU", reliability=Reliability.C,
        reliability_note=(
            "Local news site of Rostov-on-Don, writing from inside Russia under wartime "
            "censorship, so it cannot always name its sources. On this story it relies on "
            "unnamed insiders we cannot reach. Fairly reliable until we have found and "
            "archived its original report."
        ),
    ),
    dict(
        name=S_INSIDERS, kind=SourceKind.PERSON, language="ru", country="RU",
        reliability=Reliability.F, protected=True, reached_via=S_161,
        reliability_note=(
            "Unnamed people in the military investigative bodies, known to us only through "
            "161.ru: we have no track record of our own to grade them by."
        ),
    ),
    dict(
        name=S_ISTORIES, kind=SourceKind.OUTLET, url="https://istories.media/",
        language="ru", reliability=Reliability.B,
        reliability_note=(
            "Investigative outlet working in exile. Its desertion figures are its own count; "
            "we have not redone it, so they are attributed to IStories in our copy."
        ),
    ),
    dict(
        name=S_MOD, kind=SourceKind.OFFICIAL, url="https://mil.ru/", language="ru",
        country="RU", reliability=Reliability.D,
        reliability_note=(
            "A party to the events: it speaks about its own troops' discipline and losses "
            "rarely and selectively. Has not commented on this story."
        ),
    ),
    dict(
        name=S_EXILE, kind=SourceKind.OUTLET, language="en", reliability=Reliability.B,
        reliability_note=(
            "Independent Russian newsroom working in exile; its English report is how the "
            "story reached us. On this story it adds nothing of its own: it retells 161.ru "
            "and 161.ru's unnamed investigators."
        ),
    ),
    dict(
        name=S_TASS, kind=SourceKind.AGENCY, url="https://tass.com/", language="ru",
        country="RU", reliability=Reliability.C,
        reliability_note=(
            "State news agency. Here it only supplied the photo that illustrates the report "
            "(a TASS photographer's credit): an illustration, not evidence of the event."
        ),
    ),
]

# Two outlets the story does not have, marked as illustrations wherever they appear: they
# show what the Figures tab does with reports that agree ("at least ten") and with one that
# cannot be true with the others ("twelve", from an outlet graded E). Their publication days
# are part of the illustration (the story gives none), so the chart has points to draw.
S_AGGREGATOR = "Regional news aggregator (demo illustration)"
S_CHANNEL = "Anonymous Telegram channel (demo illustration)"
SOURCES += [
    dict(
        name=S_AGGREGATOR, kind=SourceKind.OUTLET, language="ru", country="RU",
        reliability=Reliability.D,
        reliability_note=(
            "Not part of the story: a demo illustration of a second outlet whose figure agrees "
            "with 161.ru's ('at least ten')."
        ),
    ),
    dict(
        name=S_CHANNEL, kind=SourceKind.SOCIAL_ACCOUNT, language="ru", reliability=Reliability.E,
        reliability_note=(
            "Not part of the story: a demo illustration of a poorly graded source whose "
            "figure ('twelve') cannot be true together with 161.ru's."
        ),
    ),
]

# A clearly fictional placeholder: the real insiders are unknown to us, and a demo must
# never hold a real person's name.
INSIDER_IDENTITY = dict(
    real_name="PLACEHOLDER – fictional demo identity, not a real person",
    contact="None: reached only through 161.ru (demo placeholder).",
    private_notes=(
        "Demo data. In a real case only the case's source handlers would read this field: "
        "who the insiders are, how 161.ru reached them, how to contact them safely."
    ),
)


# --- incidents ----------------------------------------------------------------------------

I_DESERTION = "Ten recruits desert a training ground in Rostov region"
I_FIRST_CATCH = "Four of the deserters caught"
I_BORDER_ARRESTS = "Two deserters arrested near the Donetsk and Luhansk border"
I_MANHUNT = "Manhunt for the four still at large"

# The Map tab: the report places these incidents no closer than Rostov Oblast, so they stand
# at the oblast's middle at the precision of a region (drawn as its outline, "somewhere in
# Rostov Oblast"), and the first catch, whose place is not reported, has no coordinates at
# all (the map counts it as not mapped). The demo invents no town or point the report does
# not give.
ROSTOV_OBLAST_MIDDLE = dict(latitude=Decimal("47.750000"), longitude=Decimal("41.000000"))

# The four incidents of the desertion are one event: the case overview adds up their people
# counts on one line (10 involved = 6 detained + 4 at large), as a count group.
ROSTOV_GROUP = dict(count_group="Rostov training-ground desertion")
I_WARRANTS = "Arrest warrants for desertion across Russia since the full-scale invasion"

INCIDENTS = [
    dict(
        title=I_DESERTION, type="desertion", occurred="XXXX-05-09",
        description=(
            "Ten former prison inmates, recruited into the army and still in training before "
            "deployment, left a military training ground on Victory Day. The report names "
            "neither the training ground nor the year."
        ),
        place_name="Military training ground (not named in the report)",
        admin_region="Rostov Oblast", country="RU", geo_precision=GeoPrecision.REGION,
        **ROSTOV_OBLAST_MIDDLE,
        involved=10,
        **ROSTOV_GROUP,
    ),
    dict(
        title=I_FIRST_CATCH, type="arrest", occurred="XXXX-05",
        description=(
            "Four of the ten were caught soon after the escape. The report gives no date or "
            "place: May is inferred from 'soon after 9 May'; the year is unknown."
        ),
        place_name="Not reported", admin_region="Rostov Oblast", country="RU",
        geo_precision=GeoPrecision.REGION, involved=4, detained=4,
        **ROSTOV_GROUP,
    ),
    dict(
        title=I_BORDER_ARRESTS, type="arrest", occurred="XXXX-05",
        description=(
            "Two more were arrested later near the border with the Donetsk and Luhansk "
            "regions of Ukraine, which Russia occupies and claims to have annexed in "
            "September 2022. The report says only 'later' and does not say on which side of "
            "that line: the month is a working assumption until the original is found."
        ),
        place_name="Near the border with the occupied Donetsk and Luhansk regions",
        admin_region="Rostov Oblast", country="RU", geo_precision=GeoPrecision.REGION,
        **ROSTOV_OBLAST_MIDDLE,
        involved=2, detained=2,
        **ROSTOV_GROUP,
    ),
    dict(
        title=I_MANHUNT, type="manhunt", occurred="XXXX-05",
        description=(
            "Four of the ten were still at large when the report appeared; the search covers "
            "Rostov region and parts of occupied Ukraine. Start date not reported."
        ),
        place_name="Rostov region and parts of occupied Ukraine",
        admin_region="Rostov Oblast", country="RU", geo_precision=GeoPrecision.REGION,
        **ROSTOV_OBLAST_MIDDLE,
        involved=4, at_large=4,
        **ROSTOV_GROUP,
    ),
]

# Context, not part of the case's tally: IStories' nationwide count, "at least" as reported,
# left out of the case's people counts. Its date is the start of the period the count covers
# (the report does not say when the count was made); it has no place on the map.
INCIDENTS.append(dict(
    title=I_WARRANTS, type="arrest", occurred="2022-02-24",
    description=(
        "IStories' count of arrest warrants for soldiers suspected of desertion, from the start "
        "of the full-scale invasion to the time of its report. Context for the story: these "
        "people are not part of the Rostov tally."
    ),
    country="RU", involved=49000, involved_qualifier=FigureQualifier.AT_LEAST,
    in_case_counts=False,
))

# (the incident that follows up, the incident it follows up, a note): what the desk would link.
INCIDENT_LINKS = [
    (I_FIRST_CATCH, I_DESERTION, "Four of the ten who fled."),
    (I_BORDER_ARRESTS, I_DESERTION, "Two more of the ten, if the reports mean the same group."),
    (I_MANHUNT, I_DESERTION, "The four not yet caught."),
]

# (incident, source, the one source it came via or None, relation, quote)
INCIDENT_CITATIONS = [
    (I_DESERTION, S_161, None, CitationRelation.REPORTS,
     "Our summary: ten recruits from prison fled a Rostov-region training ground on 9 May."),
    (I_DESERTION, S_INSIDERS, S_161, CitationRelation.REPORTS, ""),
    (I_DESERTION, S_MOD, None, CitationRelation.DECLINED_TO_COMMENT,
     "No comment from the ministry at the time of the report."),
    (I_FIRST_CATCH, S_INSIDERS, S_161, CitationRelation.REPORTS, ""),
    (I_BORDER_ARRESTS, S_INSIDERS, S_161, CitationRelation.REPORTS, ""),
    (I_MANHUNT, S_INSIDERS, S_161, CitationRelation.REPORTS, ""),
    (I_WARRANTS, S_ISTORIES, None, CitationRelation.REPORTS,
     "Our summary of IStories' own count of desertion warrants."),
]


# --- claims -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cite:
    source: str
    #: The sources the statement came through, in order.
    relays: tuple[str, ...] = ()
    relation: CitationRelation = CitationRelation.REPORTS
    quote: str = ""
    language: str = "ru"
    #: Only the demo's illustrations carry one: the story gives no publication date.
    published_at: dt.datetime | None = None


@dataclass(frozen=True)
class Step:
    """One verification step, taken through cases.workflow (propose or transition)."""

    actor: str
    to: VerificationStatus
    note: str
    propose: bool = False
    override_reason: str = ""


@dataclass(frozen=True)
class DemoClaim:
    statement: str
    incident: str | None
    credibility: Credibility
    citations: list[Cite]
    figure: tuple[str, FigureQualifier, str] | None = None  # value, qualifier, unit
    steps: list[Step] = field(default_factory=list)


VIA_161 = dict(source=S_INSIDERS, relays=(S_161,))
S = VerificationStatus

CLAIMS = [
    DemoClaim(
        "Ten men recruited into the army from prison deserted from a military training ground "
        "in Rostov region while still in training, before being sent to the front.",
        I_DESERTION, Credibility.POSSIBLY_TRUE,
        [Cite(S_161, quote="Our summary: ten recruits from prison ran from a training ground "
                           "in the region."),
         Cite(**VIA_161),
         # One citation, two relays: the report we read cites 161.ru and its investigators.
         Cite(S_EXILE, relays=(S_161, S_INSIDERS),
              quote="Our summary: the English report retells 161.ru and the unnamed "
                    "investigators 161.ru quotes.", language="en")],
        figure=("10", FigureQualifier.EXACTLY, "deserters"),
        steps=[
            Step("reporter", S.IN_REVIEW,
                 "Both citations go back to the same unnamed investigators: looking for a "
                 "second, independent source."),
            Step("reporter", S.CONFIRMED, propose=True,
                 note="161.ru is an established local newsroom and gives a precise account; "
                      "I propose we confirm it as an attributed report."),
        ],
    ),
    DemoClaim(
        "The ten left the training ground on 9 May, the day of the Victory Day celebrations.",
        I_DESERTION, Credibility.POSSIBLY_TRUE, [Cite(**VIA_161)],
    ),
    DemoClaim(
        "Four of the ten deserters were caught shortly after they fled.",
        I_FIRST_CATCH, Credibility.POSSIBLY_TRUE, [Cite(**VIA_161)],
        figure=("4", FigureQualifier.EXACTLY, "caught"),
        steps=[Step("reporter", S.IN_REVIEW,
                    "Asking the Southern Military District; checking regional court records.")],
    ),
    DemoClaim(
        "Two more of the deserters were arrested later near the border with the occupied "
        "Donetsk and Luhansk regions of Ukraine.",
        I_BORDER_ARRESTS, Credibility.POSSIBLY_TRUE,
        [Cite(**VIA_161, quote="Our summary: the report hedges this with 'reportedly'.")],
        figure=("2", FigureQualifier.EXACTLY, "arrested later"),
    ),
    DemoClaim(
        "The deserters resisted when they were arrested, but the arrests succeeded.",
        I_BORDER_ARRESTS, Credibility.CANNOT_BE_JUDGED,
        [Cite(**VIA_161, quote="Our paraphrase of an unnamed source quoted by 161.ru (the "
                               "Russian original is not yet archived).")],
    ),
    DemoClaim(
        "None of the ten was armed when they left the training ground.",
        I_DESERTION, Credibility.CANNOT_BE_JUDGED,
        [Cite(S_161, quote="Our summary: 161.ru says so with a 'reportedly'.")],
        steps=[
            Step("reporter", S.UNVERIFIABLE, propose=True,
                 note="Only 161.ru's hedged 'reportedly'; nobody else describes what the men "
                      "carried."),
            Step("editor", S.UNVERIFIABLE,
                 "Agreed: one hedged line from one outlet and no way to check it. If we use "
                 "it at all, write 'reportedly unarmed' and attribute it to 161.ru."),
        ],
    ),
    DemoClaim(
        "Before they were recruited, the ten were serving prison sentences for crimes "
        "including murder, rape and drug trafficking, and they had signed army contracts.",
        I_DESERTION, Credibility.POSSIBLY_TRUE, [Cite(**VIA_161)],
        steps=[Step("reporter", S.IN_REVIEW,
                    "Trying to match the men to court records once names are known.")],
    ),
    DemoClaim(
        "Four of the deserters are still at large and are being searched for in Rostov region "
        "and in parts of occupied Ukraine.",
        I_MANHUNT, Credibility.POSSIBLY_TRUE, [Cite(**VIA_161)],
        figure=("4", FigureQualifier.EXACTLY, "at large"),
        steps=[Step("reporter", S.IN_REVIEW,
                    "The tally adds up (4 caught + 2 arrested + 4 at large = 10); the figures "
                    "still rest on one origin.")],
    ),
    DemoClaim(
        "Since the start of the full-scale invasion, Russian authorities have sought the "
        "arrest of at least 49,000 soldiers suspected of desertion.",
        None, Credibility.PROBABLY_TRUE,
        [Cite(S_ISTORIES, quote="Our summary of IStories' own count of desertion warrants.")],
        figure=("49000", FigureQualifier.AT_LEAST, "arrest warrants for desertion"),
        steps=[
            Step("reporter", S.CONFIRMED, propose=True,
                 note="IStories is where this count comes from; it is a floor ('at least'), "
                      "which is how we would print it."),
            Step("editor", S.CONFIRMED,
                 "Confirmed as IStories' figure, printed with its qualifier and attribution.",
                 override_reason="Single source, but it is the origin of the count: IStories "
                                 "compiled it. We know of no second, independent "
                                 "count; we attribute it and will update if one appears."),
        ],
    ),
    DemoClaim(
        "Of the soldiers wanted for desertion, nearly 300 were later reported dead, captured "
        "or missing.",
        None, Credibility.POSSIBLY_TRUE,
        [Cite(S_ISTORIES, quote="Our summary of IStories' follow-up of the wanted deserters.")],
        figure=("300", FigureQualifier.NEARLY, "wanted deserters reported dead, captured or "
                                               "missing"),
    ),
    DemoClaim(
        "The photo published with the report shows a Russian military training ground; it is "
        "credited to a TASS photographer.",
        None, Credibility.CANNOT_BE_JUDGED,
        [Cite(S_TASS, quote="Photo credit only: no place or date given.")],
        steps=[
            Step("editor2", S.UNVERIFIABLE,
                 "The credit names TASS but gives no place or date, so we cannot tell which "
                 "training ground it shows or when. Illustration only: never use it as "
                 "evidence of the desertion."),
        ],
    ),
]


# The Figures tab's illustrations (see S_AGGREGATOR, S_CHANNEL): reports of the same figure,
# "deserters", one consistent with 161.ru's ten and one that contradicts it.
CLAIMS += [
    DemoClaim(
        "Demo illustration, not in the report: a regional news aggregator writes that at least "
        "ten recruits fled the training ground.",
        I_DESERTION, Credibility.POSSIBLY_TRUE,
        [Cite(S_AGGREGATOR, quote="Demo illustration: “at least ten”.",
              published_at=_at(5, 10, 8, 0))],
        figure=("10", FigureQualifier.AT_LEAST, "deserters"),
    ),
    DemoClaim(
        "Demo illustration, not in the report: an anonymous Telegram channel writes that "
        "twelve recruits fled.",
        I_DESERTION, Credibility.DOUBTFUL,
        [Cite(S_CHANNEL, quote="Demo illustration: “twelve”.", published_at=_at(5, 10, 21, 0))],
        figure=("12", FigureQualifier.EXACTLY, "deserters"),
    ),
]


# --- follow-up ----------------------------------------------------------------------------

COMMENT_REQUEST = dict(
    party=S_MOD, incident=I_DESERTION, asked_by="reporter", asked_at=_at(5, 14, 9, 30),
    channel=CommentChannel.PRESS_OFFICE, deadline=_at(5, 16, 18, 0),
    outcome=CommentOutcome.NO_ANSWER,
    reply_summary="No reply by the deadline.",
)

# (title, assignee, due in days from the day the demo is seeded, incident, notes).
# Due dates are relative so that one task is always overdue and the others are not.
TASKS = [
    ("Ask the Southern Military District for comment", "reporter", -2, I_DESERTION,
     "The Defence Ministry's press office did not answer; try the district's press service."),
    ("Find the 161.ru original and archive it", "reporter", 2, I_DESERTION,
     "We only have it second-hand. Find the Russian original, archive it and attach the "
     "archived copy as evidence; check the year it gives, if any."),
    ("Geolocate the training ground", "editor2", 7, I_DESERTION,
     "The report does not name the training ground: list the candidates in Rostov region."),
]


# --- writing it ---------------------------------------------------------------------------


@dataclass
class SeedResult:
    created: int = 0
    existing: int = 0
    case: Case | None = None
    users: dict = field(default_factory=dict)

    def count(self, created: bool) -> None:
        if created:
            self.created += 1
        else:
            self.existing += 1


def _get_or_create(result: SeedResult, model, lookup: dict, defaults: dict, *, actor):
    """The record with these natural keys, or a new one written with `defaults`, validated,
    and recorded in the history as made by `actor`. An existing record is never saved."""
    obj = model._default_manager.filter(**lookup).first()
    if obj is not None:
        result.count(False)
        return obj, False
    obj = model(**lookup, **defaults)
    obj.full_clean()
    obj._history_user = actor
    obj._change_reason = CHANGE_REASON
    obj.save()
    result.count(True)
    return obj, True


def _users(result: SeedResult, password: str) -> dict:
    User = get_user_model()
    group, group_created = Group.objects.get_or_create(name=STAFF_GROUP)
    result.count(group_created)
    if group_created:
        # Everything on case data and on how its cited pages are watched, plus looking up
        # colleagues in the admin's user pickers; not opening cases, the desk editors' right.
        group.permissions.set(Permission.objects.filter(
            Q(content_type__app_label="cases")
            | Q(content_type__app_label="capture", content_type__model="casewatch")
            | Q(content_type__app_label="auth", codename="view_user"))
            .exclude(content_type__app_label="cases", codename="open_case"))
    desk_editors = opening.desk_editors()
    users = {}
    for spec in USERS:
        user = User._default_manager.filter(username=spec.username).first()
        if user is None:
            user = User(username=spec.username, email=spec.email, first_name=spec.first_name,
                        last_name=spec.last_name, is_staff=spec.is_staff,
                        is_superuser=spec.is_superuser)
            user.set_password(password)
            user.save()
            if spec.in_staff_group:
                user.groups.add(group)
            if spec.desk_editor:
                user.groups.add(desk_editors)
            result.count(True)
        else:
            result.count(False)
        users[spec.username] = user
    return users


@transaction.atomic
def seed(password: str) -> SeedResult:
    result = SeedResult()
    users = result.users = _users(result, password)
    editor, reporter = users["editor"], users["reporter"]

    # Opened by the editor; the lead is chosen once the team is in (Case.lead_candidates).
    case, case_created = _get_or_create(
        result, Case, {"slug": CASE_SLUG},
        dict(title=CASE_TITLE, summary=CASE_SUMMARY, status=CaseStatus.ACTIVE,
             sensitivity=Sensitivity.SENSITIVE, created_by=editor),
        actor=editor,
    )
    result.case = case
    for spec in USERS:
        if spec.role is None:
            continue
        adder = users["admin"] if spec.username == "editor" else editor
        _get_or_create(
            result, Membership, {"case": case, "user": users[spec.username]},
            dict(role=spec.role, can_handle_sources=spec.source_handler, added_by=adder),
            actor=adder,
        )
    if case_created:
        case.lead = reporter
        case.full_clean()
        case._history_user = editor
        case._change_reason = CHANGE_REASON
        case.save()

    types = {}
    for slug, name, description in INCIDENT_TYPES:
        types[slug], _ = _get_or_create(result, IncidentType, {"slug": slug},
                                        dict(name=name, description=description), actor=editor)

    sources = {}
    for spec in SOURCES:
        spec = dict(spec)
        name, via = spec.pop("name"), spec.pop("reached_via", None)
        sources[name], _ = _get_or_create(
            result, Source, {"case": case, "name": name},
            dict(spec, reached_via=sources[via] if via else None, created_by=reporter),
            actor=reporter,
        )
    _get_or_create(result, SourceIdentity, {"source": sources[S_INSIDERS]}, INSIDER_IDENTITY,
                   actor=reporter)

    incidents = {}
    for spec in INCIDENTS:
        spec = dict(spec)
        title, type_slug = spec.pop("title"), spec.pop("type")
        incidents[title], _ = _get_or_create(
            result, Incident, {"case": case, "title": title},
            dict(spec, type=types[type_slug], created_by=reporter), actor=reporter,
        )
    for later, earlier, note in INCIDENT_LINKS:
        _get_or_create(
            result, IncidentLink,
            {"from_incident": incidents[later], "to_incident": incidents[earlier]},
            dict(kind=IncidentLinkKind.FOLLOW_UP, note=note, created_by=reporter),
            actor=reporter,
        )
    for title, source, via, relation, quote in INCIDENT_CITATIONS:
        _cite(result, {"incident": incidents[title]}, sources,
              Cite(source, (via,) if via else (), relation, quote), reporter)

    for spec in CLAIMS:
        figure = {}
        if spec.figure:
            value, qualifier, unit = spec.figure
            figure = dict(figure_value=Decimal(value), figure_qualifier=qualifier,
                          figure_unit=unit)
        claim, created = _get_or_create(
            result, Claim, {"case": case, "statement": spec.statement},
            dict(figure, incident=incidents.get(spec.incident), credibility=spec.credibility,
                 created_by=reporter),
            actor=reporter,
        )
        for cite in spec.citations:
            _cite(result, {"claim": claim}, sources, cite, reporter)
        if created:  # the history of an existing claim is never replayed
            for step in spec.steps:
                actor = users[step.actor]
                if step.propose:
                    workflow.propose(claim, step.to, actor=actor, note=step.note)
                else:
                    workflow.transition(claim, step.to, actor=actor, note=step.note,
                                        override_reason=step.override_reason)

    request = dict(COMMENT_REQUEST)
    party, incident, asked_by = (request.pop(k) for k in ("party", "incident", "asked_by"))
    _get_or_create(
        result, CommentRequest, {"case": case, "party_source": sources[party]},
        dict(request, incident=incidents[incident], asked_by=users[asked_by],
             created_by=reporter),
        actor=reporter,
    )

    today = timezone.localdate()
    for title, assignee, due_in, incident, notes in TASKS:
        _get_or_create(
            result, Task, {"case": case, "title": title},
            dict(assignee=users[assignee], due_on=today + dt.timedelta(days=due_in),
                 incident=incidents[incident], notes=notes, state=TaskState.OPEN,
                 created_by=editor),
            actor=editor,
        )
    return result


def _cite(result: SeedResult, target: dict, sources: dict, cite: Cite, author) -> Citation:
    """The citation of `target` by this source, with these relays and this relation: found,
    or written with its relays (and their history) by `author`."""
    relays = [sources[name] for name in cite.relays]
    lookup = dict(target, source=sources[cite.source], relation=cite.relation)
    for citation in Citation.objects.filter(**lookup).prefetch_related("relay_links"):
        if citation.relay_ids == [relay.pk for relay in relays]:
            result.count(False)
            return citation
    citation = Citation(**lookup, quote=cite.quote, accessed_at=_at(5, 13, 16, 0),
                        language=cite.language, published_at=cite.published_at,
                        created_by=author)
    citation.set_relays(relays)
    citation.full_clean()
    citation._history_user = author
    citation._change_reason = CHANGE_REASON
    citation.save()
    result.count(True)
    return citation
