"""Every status, grade and kind of the domain, as TextChoices.

The stored values are stable identifiers used by exports and the API; the labels are what
journalists read, using the standard wording of the Admiralty (NATO) grading system.
Each label is translated with its enum's name as context: the same English word ("Other",
"Open", "Published") needs a different Russian word, or gender, in each.
"""

from decimal import Decimal

from django.db import models
from django.utils import formats
from django.utils.translation import pgettext_lazy


class CaseStatus(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("case status", "Active")
    MONITORING = "monitoring", pgettext_lazy("case status", "Monitoring")
    PUBLISHED = "published", pgettext_lazy("case status", "Published")
    CLOSED = "closed", pgettext_lazy("case status", "Closed")


class Sensitivity(models.TextChoices):
    NORMAL = "normal", pgettext_lazy("sensitivity", "Normal")
    SENSITIVE = "sensitive", pgettext_lazy("sensitivity", "Sensitive")
    RESTRICTED = "restricted", pgettext_lazy("sensitivity", "Restricted")


class Role(models.TextChoices):
    VIEWER = "viewer", pgettext_lazy("role", "Viewer")
    REPORTER = "reporter", pgettext_lazy("role", "Reporter")
    EDITOR = "editor", pgettext_lazy("role", "Editor")

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]

    def at_least(self, other: "Role") -> bool:
        return self.rank >= Role(other).rank


_ROLE_RANK = {Role.VIEWER: 0, Role.REPORTER: 1, Role.EDITOR: 2}


class DatePrecision(models.TextChoices):
    """How precisely an incident's time is known (derived from its EDTF string)."""

    TIME = "time", pgettext_lazy("date precision", "Exact time")
    DAY = "day", pgettext_lazy("date precision", "Day")
    MONTH = "month", pgettext_lazy("date precision", "Month")
    YEAR = "year", pgettext_lazy("date precision", "Year")
    RANGE = "range", pgettext_lazy("date precision", "Date range")
    UNKNOWN_YEAR = "unknown_year", pgettext_lazy("date precision", "Day or month, year unknown")


class GeoPrecision(models.TextChoices):
    POINT = "point", pgettext_lazy("place precision", "Exact point")
    TOWN = "town", pgettext_lazy("place precision", "Town or village")
    DISTRICT = "district", pgettext_lazy("place precision", "District")
    REGION = "region", pgettext_lazy("place precision", "Region")
    COUNTRY = "country", pgettext_lazy("place precision", "Country")


class SourceKind(models.TextChoices):
    OUTLET = "outlet", pgettext_lazy("source kind", "News outlet")
    AGENCY = "agency", pgettext_lazy("source kind", "News agency")
    OFFICIAL = "official", pgettext_lazy("source kind", "Official body")
    DOCUMENT = "document", pgettext_lazy("source kind", "Document")
    SOCIAL_ACCOUNT = "social_account", pgettext_lazy("source kind", "Social-media account")
    PERSON = "person", pgettext_lazy("source kind", "Insider or person")
    PHOTO_VIDEO = "photo_video", pgettext_lazy("source kind", "Photo or video")
    OTHER = "other", pgettext_lazy("source kind", "Other")


class Reliability(models.TextChoices):
    """Admiralty source reliability: how far the source has proved trustworthy."""

    A = "A", pgettext_lazy("source reliability", "A – Completely reliable")
    B = "B", pgettext_lazy("source reliability", "B – Usually reliable")
    C = "C", pgettext_lazy("source reliability", "C – Fairly reliable")
    D = "D", pgettext_lazy("source reliability", "D – Not usually reliable")
    E = "E", pgettext_lazy("source reliability", "E – Unreliable")
    F = "F", pgettext_lazy("source reliability", "F – Reliability cannot be judged")


class Credibility(models.TextChoices):
    """Admiralty information credibility: how far the statement itself is borne out."""

    CONFIRMED = "1", pgettext_lazy("information credibility", "1 – Confirmed by other sources")
    PROBABLY_TRUE = "2", pgettext_lazy("information credibility", "2 – Probably true")
    POSSIBLY_TRUE = "3", pgettext_lazy("information credibility", "3 – Possibly true")
    DOUBTFUL = "4", pgettext_lazy("information credibility", "4 – Doubtful")
    IMPROBABLE = "5", pgettext_lazy("information credibility", "5 – Improbable")
    CANNOT_BE_JUDGED = "6", pgettext_lazy("information credibility", "6 – Truth cannot be judged")


class FigureQualifier(models.TextChoices):
    EXACTLY = "exactly", pgettext_lazy("figure qualifier", "exactly")
    AT_LEAST = "at_least", pgettext_lazy("figure qualifier", "at least")
    AT_MOST = "at_most", pgettext_lazy("figure qualifier", "at most")
    ABOUT = "about", pgettext_lazy("figure qualifier", "about")
    NEARLY = "nearly", pgettext_lazy("figure qualifier", "nearly")
    MORE_THAN = "more_than", pgettext_lazy("figure qualifier", "more than")
    FEWER_THAN = "fewer_than", pgettext_lazy("figure qualifier", "fewer than")

    def describe(self, value, unit: str = "") -> str:
        """The figure in words of the active language: "at least 49,000 deserters" (in
        Russian "не менее 49 000 deserters"; the unit is the newsroom's own text)."""
        pattern = str(_FIGURE_PATTERNS[FigureQualifier(self)])  # this one translated only
        text = pattern % {"number": format_figure_number(value)}
        return f"{text} {unit}".strip()


# Whole sentences, not the label glued to the number: languages put the qualifier elsewhere
# or decline it.
_FIGURE_PATTERNS = {
    FigureQualifier.EXACTLY: "%(number)s",
    FigureQualifier.AT_LEAST: pgettext_lazy("figure", "at least %(number)s"),
    FigureQualifier.AT_MOST: pgettext_lazy("figure", "at most %(number)s"),
    FigureQualifier.ABOUT: pgettext_lazy("figure", "about %(number)s"),
    FigureQualifier.NEARLY: pgettext_lazy("figure", "nearly %(number)s"),
    FigureQualifier.MORE_THAN: pgettext_lazy("figure", "more than %(number)s"),
    FigureQualifier.FEWER_THAN: pgettext_lazy("figure", "fewer than %(number)s"),
}


def format_figure_number(value) -> str:
    """A figure's number as the active language writes it, digits always grouped ("49,000";
    in Russian "49 000" with a no-break space), without trailing zeros of its decimal part."""
    number = Decimal(str(value)).normalize()
    if number == number.to_integral():
        number = number.quantize(Decimal(1))
    return formats.number_format(number, force_grouping=True)


class VerificationStatus(models.TextChoices):
    UNVERIFIED = "unverified", pgettext_lazy("verification status", "Unverified")
    IN_REVIEW = "in_review", pgettext_lazy("verification status", "In review")
    CORROBORATED = "corroborated", pgettext_lazy("verification status", "Corroborated")
    CONFIRMED = "confirmed", pgettext_lazy("verification status", "Confirmed")
    DISPUTED = "disputed", pgettext_lazy("verification status", "Disputed")
    FALSE = "false", pgettext_lazy("verification status", "False")
    UNVERIFIABLE = "unverifiable", pgettext_lazy("verification status", "Unverifiable")

    @classmethod
    def finals(cls) -> frozenset["VerificationStatus"]:
        return frozenset({cls.CONFIRMED, cls.FALSE, cls.UNVERIFIABLE})

    @property
    def is_final(self) -> bool:
        return self in self.finals()


class VerificationEventKind(models.TextChoices):
    TRANSITION = "transition", pgettext_lazy("verification event", "Status change")
    PROPOSAL = "proposal", pgettext_lazy("verification event", "Verdict proposed")


class CitationRelation(models.TextChoices):
    REPORTS = "reports", pgettext_lazy("citation relation", "Reports")
    CONFIRMS = "confirms", pgettext_lazy("citation relation", "Confirms")
    DENIES = "denies", pgettext_lazy("citation relation", "Denies")
    DECLINED_TO_COMMENT = "declined_to_comment", pgettext_lazy(
        "citation relation", "Declined to comment")

    @classmethod
    def supporting(cls) -> frozenset["CitationRelation"]:
        return frozenset({cls.REPORTS, cls.CONFIRMS})


class TaskState(models.TextChoices):
    OPEN = "open", pgettext_lazy("task state", "Open")
    DONE = "done", pgettext_lazy("task state", "Done")
    CANCELLED = "cancelled", pgettext_lazy("task state", "Cancelled")


class CommentOutcome(models.TextChoices):
    PENDING = "pending", pgettext_lazy("comment request outcome", "Pending")
    REPLIED = "replied", pgettext_lazy("comment request outcome", "Replied")
    DECLINED = "declined", pgettext_lazy("comment request outcome", "Declined to comment")
    NO_ANSWER = "no_answer", pgettext_lazy("comment request outcome", "No answer by the deadline")


class CommentChannel(models.TextChoices):
    EMAIL = "email", pgettext_lazy("comment request channel", "Email")
    PHONE = "phone", pgettext_lazy("comment request channel", "Phone")
    MESSENGER = "messenger", pgettext_lazy("comment request channel", "Messenger")
    LETTER = "letter", pgettext_lazy("comment request channel", "Letter")
    IN_PERSON = "in_person", pgettext_lazy("comment request channel", "In person")
    PRESS_OFFICE = "press_office", pgettext_lazy("comment request channel", "Press office request")
    OTHER = "other", pgettext_lazy("comment request channel", "Other")


class IncidentLinkKind(models.TextChoices):
    """How two incidents are linked. A follow-up is directed: the link's `from` incident
    follows up its `to` incident; the other kinds read the same from either side."""

    SAME_EVENT = "same_event", pgettext_lazy("incident link", "Same event")
    FOLLOW_UP = "follow_up", pgettext_lazy("incident link", "Follow-up")
    RELATED = "related", pgettext_lazy("incident link", "Related")


class EvidenceState(models.TextChoices):
    """An evidence file's state in the workspace (cases/deletion.py): in force, deleted (the
    file still stored, restorable within the restore window) or purged from storage."""

    KEPT = "kept", pgettext_lazy("evidence state", "Kept")
    DELETED = "deleted", pgettext_lazy("evidence state", "Deleted")
    PURGED = "purged", pgettext_lazy("evidence state", "Purged from storage")
