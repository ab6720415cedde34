import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .enums import CaseStatus, Role, Sensitivity
from .models import Case


class CaseFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_text", label=_("Text"))
    status = django_filters.ChoiceFilter(choices=CaseStatus.choices)
    sensitivity = django_filters.ChoiceFilter(choices=Sensitivity.choices)
    role = django_filters.ChoiceFilter(choices=Role.choices, method="filter_role",
                                       label=_("My role"))

    class Meta:
        model = Case
        fields = ["q", "status", "sensitivity", "role"]

    def filter_text(self, queryset, name, value):
        return queryset.filter(Q(title__icontains=value) | Q(summary__icontains=value))

    def filter_role(self, queryset, name, value):
        return queryset.filter(memberships__user=self.request.user, memberships__role=value)
