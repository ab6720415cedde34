"""Every status, grade and kind of the domain, as TextChoices.

The stored values are stable identifiers used by exports and the API; the labels are what
journalists read, using the standard wording of the Admiralty (NATO) grading system.
"""

from django.db import models


class CaseStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    MONITORING = "monitoring", "Monitoring"
    PUBLISHED = "published", "Published"
    CLOSED = "closed", "Closed"


class Sensitivity(models.TextChoices):
    NORMAL = "normal", "Normal"
    SENSITIVE = "sensitive", "Sensitive"
    RESTRICTED = "restricted", "Restricted"


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    REPORTER = "reporter", "Reporter"
    EDITOR = "editor", "Editor"

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]

    def at_least(self, other: "Role") -> bool:
        return self.rank >= Role(other).rank


_ROLE_RANK = {Role.VIEWER: 0, Role.REPORTER: 1, Role.EDITOR: 2}


class DatePrecision(models.TextChoices):
    """How precisely an incident's time is known (derived from its EDTF string)."""

    TIME = "time", "Exact time"
    DAY = "day", "Day"
    MONTH = "month", "Month"
    YEAR = "year", "Year"
    RANGE = "range", "Date range"
    UNKNOWN_YEAR = "unknown_year", "Day or month, year unknown"


class GeoPrecision(models.TextChoices):
    POINT = "point", "Exact point"
    TOWN = "town", "Town or village"
    DISTRICT = "district", "District"
    REGION = "region", "Region"
    COUNTRY = "country", "Country"


class SourceKind(models.TextChoices):
    OUTLET = "outlet", "News outlet"
    AGENCY = "agency", "News agency"
    OFFICIAL = "official", "Official body"
    DOCUMENT = "document", "Document"
    SOCIAL_ACCOUNT = "social_account", "Social-media account"
    PERSON = "person", "Insider or person"
    PHOTO_VIDEO = "photo_video", "Photo or video"
    OTHER = "other", "Other"


class Reliability(models.TextChoices):
    """Admiralty source reliability: how far the source has proved trustworthy."""

    A = "A", "A – Completely reliable"
    B = "B", "B – Usually reliable"
    C = "C", "C – Fairly reliable"
    D = "D", "D – Not usually reliable"
    E = "E", "E – Unreliable"
    F = "F", "F – Reliability cannot be judged"


class Credibility(models.TextChoices):
    """Admiralty information credibility: how far the statement itself is borne out."""

    CONFIRMED = "1", "1 – Confirmed by other sources"
    PROBABLY_TRUE = "2", "2 – Probably true"
    POSSIBLY_TRUE = "3", "3 – Possibly true"
    DOUBTFUL = "4", "4 – Doubtful"
    IMPROBABLE = "5", "5 – Improbable"
    CANNOT_BE_JUDGED = "6", "6 – Truth cannot be judged"


class FigureQualifier(models.TextChoices):
    EXACTLY = "exactly", "exactly"
    AT_LEAST = "at_least", "at least"
    AT_MOST = "at_most", "at most"
    ABOUT = "about", "about"
    NEARLY = "nearly", "nearly"


class VerificationStatus(models.TextChoices):
    UNVERIFIED = "unverified", "Unverified"
    IN_REVIEW = "in_review", "In review"
    CORROBORATED = "corroborated", "Corroborated"
    CONFIRMED = "confirmed", "Confirmed"
    DISPUTED = "disputed", "Disputed"
    FALSE = "false", "False"
    UNVERIFIABLE = "unverifiable", "Unverifiable"

    @classmethod
    def finals(cls) -> frozenset["VerificationStatus"]:
        return frozenset({cls.CONFIRMED, cls.FALSE, cls.UNVERIFIABLE})

    @property
    def is_final(self) -> bool:
        return self in self.finals()


class VerificationEventKind(models.TextChoices):
    TRANSITION = "transition", "Status change"
    PROPOSAL = "proposal", "Verdict proposed"


class CitationRelation(models.TextChoices):
    REPORTS = "reports", "Reports"
    CONFIRMS = "confirms", "Confirms"
    DENIES = "denies", "Denies"
    DECLINED_TO_COMMENT = "declined_to_comment", "Declined to comment"

    @classmethod
    def supporting(cls) -> frozenset["CitationRelation"]:
        return frozenset({cls.REPORTS, cls.CONFIRMS})


class TaskState(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class CommentOutcome(models.TextChoices):
    PENDING = "pending", "Pending"
    REPLIED = "replied", "Replied"
    DECLINED = "declined", "Declined to comment"
    NO_ANSWER = "no_answer", "No answer by the deadline"


class CommentChannel(models.TextChoices):
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    MESSENGER = "messenger", "Messenger"
    LETTER = "letter", "Letter"
    IN_PERSON = "in_person", "In person"
    PRESS_OFFICE = "press_office", "Press office request"
    OTHER = "other", "Other"
