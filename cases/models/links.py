"""Links between cases, and between incidents (which may be in different cases).

A link joins two records the newsroom holds apart: the Krasnodar desertion is another case
related to the Rostov one; an incident of this case is the same event as one recorded in
another. Who sees a link is the rule of `visible_to`: a member of BOTH sides' cases. Anyone
else sees nothing of it, not even that it exists: the other side's title would tell a
member of one case about a case they are not on.

One link per pair, whichever way it was made (the unordered pair is unique in the
database), and never a record to itself. Written only through cases.links.
"""

from django.db import models
from django.db.models.functions import Greatest, Least
from django.utils.translation import gettext_lazy as _

from ..enums import IncidentLinkKind, Role
from ..history import HistoricalRecords
from .base import AuthoredModel


def _both_sides_in(queryset, from_path: str, to_path: str, case_ids):
    if case_ids is None:
        return queryset.none()
    return queryset.filter(**{f"{from_path}__in": case_ids, f"{to_path}__in": case_ids})


class LinkQuerySet(models.QuerySet):
    #: The ORM paths from a link to the cases of its two sides.
    from_case_path = to_case_path = ""
    from_field = to_field = ""

    def visible_to(self, user):
        """The links whose two sides are both in cases the user is a member of."""
        from ..access import member_case_ids  # cases.access imports the models

        return _both_sides_in(self, self.from_case_path, self.to_case_path,
                              member_case_ids(user))

    def writable_by(self, user):
        """The links the user may make or remove: reporter or editor on both sides."""
        from ..access import member_case_ids

        return _both_sides_in(self, self.from_case_path, self.to_case_path,
                              member_case_ids(user, min_role=Role.REPORTER))

    def touching(self, record):
        """The links with `record` on either side."""
        return self.filter(models.Q(**{self.from_field: record})
                           | models.Q(**{self.to_field: record}))


class CaseLinkQuerySet(LinkQuerySet):
    from_case_path, to_case_path = "from_case", "to_case"
    from_field, to_field = "from_case", "to_case"


class IncidentLinkQuerySet(LinkQuerySet):
    from_case_path, to_case_path = "from_incident__case", "to_incident__case"
    from_field, to_field = "from_incident", "to_incident"


class CaseLink(AuthoredModel):
    from_case = models.ForeignKey("cases.Case", on_delete=models.CASCADE,
                                  related_name="links_from", verbose_name=_("from case"))
    to_case = models.ForeignKey("cases.Case", on_delete=models.CASCADE,
                                related_name="links_to", verbose_name=_("to case"))
    note = models.TextField(_("note"), blank=True,
                            help_text=_("Why the cases belong together."))

    history = HistoricalRecords()
    objects = CaseLinkQuerySet.as_manager()

    class Meta:
        verbose_name = _("case link")
        verbose_name_plural = _("case links")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(from_case=models.F("to_case")),
                                   name="case_link_not_to_itself"),
            models.UniqueConstraint(Least("from_case", "to_case"),
                                    Greatest("from_case", "to_case"),
                                    name="case_link_one_per_pair"),
        ]

    def __str__(self):
        return _("%(from)s – %(to)s") % {"from": self.from_case, "to": self.to_case}

    def other_side(self, case):
        return self.to_case if self.from_case_id == case.pk else self.from_case


class IncidentLink(AuthoredModel):
    from_incident = models.ForeignKey("cases.Incident", on_delete=models.CASCADE,
                                      related_name="links_from",
                                      verbose_name=_("from incident"))
    to_incident = models.ForeignKey("cases.Incident", on_delete=models.CASCADE,
                                    related_name="links_to", verbose_name=_("to incident"))
    kind = models.CharField(_("kind"), max_length=20, choices=IncidentLinkKind.choices,
                            default=IncidentLinkKind.RELATED)
    note = models.TextField(_("note"), blank=True)

    history = HistoricalRecords()
    objects = IncidentLinkQuerySet.as_manager()

    class Meta:
        verbose_name = _("incident link")
        verbose_name_plural = _("incident links")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(from_incident=models.F("to_incident")),
                                   name="incident_link_not_to_itself"),
            models.UniqueConstraint(Least("from_incident", "to_incident"),
                                    Greatest("from_incident", "to_incident"),
                                    name="incident_link_one_per_pair"),
        ]

    def __str__(self):
        return _("%(from)s – %(to)s") % {"from": self.from_incident, "to": self.to_incident}

    def other_side(self, incident):
        return self.to_incident if self.from_incident_id == incident.pk else self.from_incident

    def describe_from(self, incident) -> str:
        """The link as read from `incident`'s side: a follow-up reads differently from its
        two ends."""
        if self.kind == IncidentLinkKind.FOLLOW_UP:
            if self.from_incident_id == incident.pk:
                return str(_("Follows up"))
            return str(_("Followed up by"))
        return str(IncidentLinkKind(self.kind).label)
