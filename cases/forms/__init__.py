"""Journalist-facing forms. Each lists its fields explicitly; model validation (clean())
is shared with the admin, which reuses the same ModelForm machinery."""

from .base import CaseRecordForm, CrispyModelForm
from .case import CaseEditForm, CaseForm, MemberAddForm, MemberRemoveForm, MembershipForm
from .records import (
    BaseCitationFormSet,
    CitationForm,
    ClaimForm,
    CommentRequestForm,
    EvidenceForm,
    IncidentForm,
    SourceForm,
    SourceIdentityForm,
    TaskForm,
    citation_formset,
)
from .verification import ProposeForm, TransitionForm

__all__ = [
    "BaseCitationFormSet", "CaseEditForm", "CaseForm", "CaseRecordForm", "CitationForm",
    "ClaimForm", "CommentRequestForm", "CrispyModelForm", "EvidenceForm", "IncidentForm",
    "MemberAddForm", "MemberRemoveForm", "MembershipForm", "ProposeForm", "SourceForm",
    "SourceIdentityForm", "TaskForm", "TransitionForm", "citation_formset",
]
