"""Dates, figures and the domain's words in Russian: fuzzy dates in words ("9 мая, год
неизвестен", "в ночь на 9 мая 2025"), figures grouped the Russian way ("не менее 49 000"),
enum labels, model names and the models' refusals. English stays as it was
(tests/test_fuzzydate.py, tests/test_models.py)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from cases import fuzzydate
from cases.enums import CitationRelation, FigureQualifier, Reliability, VerificationStatus
from cases.figures import Figure
from cases.models import Claim, CommentRequest, Incident

from .factories import CommentRequestFactory

NBSP = "\u00a0"

# EDTF → the words a Russian reader sees.
RUSSIAN_DATES = [
    ("2025-05-09", "9 мая 2025"),
    ("XXXX-05-09", "9 мая, год неизвестен"),
    ("2025-05-08/2025-05-09", "в ночь на 9 мая 2025"),
    ("2025-04-30/2025-05-01", "в ночь на 1 мая 2025"),
    ("XXXX-05-09/XXXX-05-10", "в ночь на 10 мая, год неизвестен"),
    ("2025-05-09~", "около 9 мая 2025"),
    ("2025-05", "май 2025"),
    ("2024-02", "февраль 2024"),
    ("XXXX-05", "май, год неизвестен"),
    ("2025", "2025"),
    ("2025-05~", "около мая 2025"),
    ("2025~", "около 2025 года"),
    ("2024?", "2024 (под вопросом)"),
    ("2025-05-09%", "около 9 мая 2025, под вопросом"),
    ("2025-05-09T14:30", "9 мая 2025, 14:30"),
    ("2025-05-01/2025-05-07", "1–7 мая 2025"),
    ("2025-05-08/2025-05-09~", "около 8–9 мая 2025"),
    ("2025-04-28/2025-05-02", "28 апреля – 2 мая 2025"),
    ("2025-05/2025-06", "май – июнь 2025"),
    ("2024-12-30/2025-01-02", "30 декабря 2024 – 2 января 2025"),
    ("2025-05~/2025-06", "около мая 2025 – июнь 2025"),
    ("2024/2025", "2024 – 2025"),
    ("2025-XX-09", "9-е число неизвестного месяца 2025 года"),
]


@pytest.mark.parametrize("edtf, words", RUSSIAN_DATES, ids=[row[0] for row in RUSSIAN_DATES])
def test_fuzzy_date_in_russian_reads_as_russian_words(edtf, words):
    when = fuzzydate.parse(edtf)

    with translation.override("ru"):
        assert when.describe() == words
        assert str(when) == words


@pytest.mark.parametrize("edtf, words", [
    ("2025-05-08/2025-05-09", "8–9 May 2025"),
    ("2025-05~", "about May 2025"),
    ("2025~", "about 2025"),
    ("XXXX-05-09/XXXX-05-10", "9–10 May, year unknown"),
])
def test_fuzzy_date_in_english_is_unchanged_by_the_russian_patterns(edtf, words):
    when = fuzzydate.parse(edtf)

    with translation.override("en"):
        assert when.describe() == words


def test_fuzzy_date_follows_the_active_language_on_one_parsed_value():
    when = fuzzydate.parse("2025-05-09~")  # cached: one value for every reader

    with translation.override("ru"):
        russian = when.describe()
    with translation.override("en-gb"):
        english = when.describe()

    assert (russian, english) == ("около 9 мая 2025", "about 9 May 2025")


def test_incident_when_display_in_russian():
    incident = Incident(title="Побег", occurred="XXXX-05-09")

    with translation.override("ru"):
        assert incident.when_display == "9 мая, год неизвестен"


def test_refused_date_in_russian_names_the_day_and_keeps_its_code():
    with translation.override("ru"), pytest.raises(ValidationError) as excinfo:
        fuzzydate.parse("2025-02-29")

    assert excinfo.value.code == "invalid"
    with translation.override("ru"):
        assert excinfo.value.messages == [
            "Даты «29 февраля 2025» не существует: в этом месяце 28 дней."]


def test_unreadable_date_in_russian_quotes_it_and_says_how_to_write_one():
    with translation.override("ru"), pytest.raises(ValidationError) as excinfo:
        fuzzydate.parse("вчера")

    assert excinfo.value.code == "invalid"
    with translation.override("ru"):
        (message,) = excinfo.value.messages
    assert message.startswith("«вчера» — не дата, которую понимает Casedesk. Пишите 2025-05-09")


@pytest.mark.parametrize("value, qualifier, unit, words", [
    (Decimal("49000.00"), FigureQualifier.AT_LEAST, "", f"не менее 49{NBSP}000"),
    (Decimal("300"), FigureQualifier.NEARLY, "", "почти 300"),
    (Decimal("100"), FigureQualifier.AT_MOST, "", "не более 100"),
    (Decimal("1500"), FigureQualifier.ABOUT, "дезертиров", f"около 1{NBSP}500 дезертиров"),
    (Decimal("2.50"), FigureQualifier.EXACTLY, "", "2,5"),
    (Decimal("1234567.25"), FigureQualifier.EXACTLY, "", f"1{NBSP}234{NBSP}567,25"),
])
def test_figure_in_russian_has_its_qualifier_and_russian_digit_groups(value, qualifier, unit,
                                                                      words):
    with translation.override("ru"):
        assert qualifier.describe(value, unit) == words


@pytest.mark.parametrize("qualifier", list(FigureQualifier))
def test_figure_in_english_reads_as_the_figure_always_has(qualifier):
    figure = Figure(Decimal("49000.00"), qualifier, "deserters")

    with translation.override("en-gb"):
        assert qualifier.describe(figure.value, figure.unit) == str(figure)


def test_enum_labels_in_russian_use_the_newsroom_vocabulary():
    with translation.override("ru"):
        assert str(VerificationStatus.CONFIRMED.label) == "Подтверждено"
        assert str(VerificationStatus.IN_REVIEW.label) == "На проверке"
        assert str(VerificationStatus.UNVERIFIED.label) == "Не проверено"
        assert str(VerificationStatus.DISPUTED.label) == "Оспаривается"
        assert str(Reliability.F.label) == "F – надёжность невозможно оценить"
        assert str(CitationRelation.DENIES.label) == "Опровергает"
        assert str(FigureQualifier.AT_LEAST.label) == "не менее"


def test_model_names_in_russian():
    with translation.override("ru"):
        assert str(Claim._meta.verbose_name) == "утверждение"
        assert str(Claim._meta.verbose_name_plural) == "утверждения"
        assert str(Incident._meta.get_field("occurred").verbose_name) == "когда"
        assert str(CommentRequest._meta.verbose_name) == "запрос комментария"
        assert str(Claim.history.model._meta.verbose_name) == "утверждение (история)"
    with translation.override("en-gb"):
        assert str(Claim.history.model._meta.verbose_name) == "historical claim"


def test_model_refusal_in_russian_keeps_its_code():
    claim = Claim(statement="Дезертировали", figure_value=Decimal(10), figure_unit=" ")

    with translation.override("ru"), pytest.raises(ValidationError) as excinfo:
        claim.clean()

    error = excinfo.value.error_dict["figure_unit"][0]
    assert error.code == "figure_unit_missing"
    with translation.override("ru"):
        assert list(error) == ["Укажите, что считает цифра."]


@pytest.mark.parametrize("involved, people", [(1, "1 человек"), (3, "3 человека"),
                                              (5, "5 человек"), (21, "21 человек")])
def test_incident_count_refusal_in_russian_agrees_with_the_number(involved, people):
    incident = Incident(title="Побег", occurred="2025-05-09", involved=involved,
                        detained=involved + 1)

    with translation.override("ru"), pytest.raises(ValidationError) as excinfo:
        incident.clean()

    error = excinfo.value.error_dict["involved"][0]
    assert error.code == "counts_exceed_involved"
    with translation.override("ru"):
        (message,) = list(error)
    assert message.endswith(f"больше, чем всего людей: {people}.")


@pytest.mark.django_db
def test_comment_request_summary_in_russian_has_the_month_as_with_a_day():
    asked = timezone.make_aware(dt.datetime(2025, 5, 12, 10, 0))
    request = CommentRequestFactory(asked_at=asked, deadline=None)

    with translation.override("ru"):
        assert request.summary == "запрошено 12 мая 2025, ждём ответа"
    with translation.override("en-gb"):
        assert request.summary == "asked 12 May 2025, awaiting reply"
