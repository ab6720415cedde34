from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class CaseDataQuerySet(models.QuerySet):
    """Queryset of records that belong to a case; `case_path` says how to reach it."""

    case_path = "case"

    def visible_to(self, user):
        """Only records of cases the user is a member of (superusers are no exception:
        editorial access is granted per case, never implied by a technical role)."""
        # Imported here: cases.access reads the models this module defines.
        from ..access import member_case_ids

        case_ids = member_case_ids(user)
        if case_ids is None:
            return self.none()
        return self.filter(**{f"{self.case_path}__in": case_ids})

    def of_case(self, case):
        return self.filter(**{self.case_path: case})


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


class AuthoredModel(TimeStampedModel):
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", editable=False, verbose_name=_("created by"),
    )

    class Meta:
        abstract = True


def same_case_errors(case_id, **related) -> dict[str, ValidationError]:
    """Errors for related records (a source, an incident…) that belong to another case."""
    errors = {}
    for field, obj in related.items():
        if obj is not None and case_id is not None and obj.case_id != case_id:
            errors[field] = ValidationError(_("This record belongs to another case."),
                                            code="other_case")
    return errors


class AppendOnlyQuerySet(models.QuerySet):
    """For logs that are written once and never changed: bulk rewrites are refused too.
    The record a log entry belongs to cannot be deleted while it has entries (their foreign
    keys are PROTECT), and on PostgreSQL a trigger refuses any UPDATE or DELETE of these
    tables (cases/history.py)."""

    def update(self, **kwargs):
        raise ValidationError(_("%(records)s are never edited.")
                              % {"records": self.model._meta.verbose_name_plural})

    def delete(self):
        raise ValidationError(_("%(records)s are never deleted.")
                              % {"records": self.model._meta.verbose_name_plural})
