"""Serializer fields the API's ModelSerializers use in place of DRF's defaults."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from cases.timebounds import validate_datetime_in_range


class BoundedDateTimeField(serializers.DateTimeField):
    """A datetime checked against cases.timebounds as sent, before DRF moves it into the
    current time zone: that move would silently accept an offset PostgreSQL refuses (+20:00)
    and fail a year-10000 instant as a plain overflow, without the forms' refusal code."""

    def enforce_timezone(self, value):
        try:
            validate_datetime_in_range(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages, code=exc.code) from None
        return super().enforce_timezone(value)


class KeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A related record by its id, which must be a whole number: DRF passes the value to the
    lookup as sent, and the database's integer conversion took 1.5 for record 1."""

    def to_internal_value(self, data):
        if isinstance(data, float) and not data.is_integer():
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)
