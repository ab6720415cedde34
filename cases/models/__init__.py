"""The Casedesk domain model, one module per concern (see docs/architecture.md)."""

from .case import Case, Membership
from .claim import Claim, VerificationEvent
from .evidence import CustodyEntry, Evidence
from .followup import CommentRequest, Task
from .incident import Incident, IncidentType
from .links import CaseLink, IncidentLink
from .reveal import IdentityReveal, RevealChannel
from .source import Citation, CitationRelay, Source, SourceIdentity

__all__ = [
    "Case",
    "CaseLink",
    "Citation",
    "CitationRelay",
    "Claim",
    "CommentRequest",
    "CustodyEntry",
    "Evidence",
    "IdentityReveal",
    "Incident",
    "IncidentLink",
    "IncidentType",
    "Membership",
    "RevealChannel",
    "Source",
    "SourceIdentity",
    "Task",
    "VerificationEvent",
]
