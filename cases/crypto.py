"""Encryption at rest for protected source identities (and any other field that needs it).

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256: authenticated, from
`cryptography`) under the keys of the `CASEDESK_ENCRYPTION_KEYS` setting, read from the
environment variable of the same name: a list of Fernet keys, the first of which encrypts
and all of which decrypt (`MultiFernet`). The keys are never derived from SECRET_KEY.

`EncryptedCharField` / `EncryptedTextField` store a Fernet token (URL-safe base64 text) in
a `text` column. What they hand to the database is always ciphertext: `get_prep_value`
encrypts, so django-simple-history's copy of the field on the historical model stores
ciphertext too. Reading a value that none of the keys opens (a wrong or missing key, a value
written around the ORM) raises `IdentityDecryptionError` naming the field: never the
ciphertext passed off as data, never an empty string. An empty value is encrypted like any
other, so every non-NULL cell of such a column is a token.

The fields support no lookups but `isnull` (a search on ciphertext can only mislead), and
cannot be unique or indexed. `manage.py rotate_encryption_keys` re-encrypts every stored
value under the newest key.

Django's serializers (`manage.py dumpdata`, `serializers.serialize`) write these fields as
`encrypted:<Fernet token>`, never in clear: a dump is as safe as the database it came from,
and as useless without the keys. `manage.py loaddata` (cases/management/commands) reads the
tokens back; nothing else does, so typing a token into a form never decrypts it.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core import checks
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import models
from django.db.models import Value
from django.db.models.functions import Cast
from django.views.decorators.debug import sensitive_variables

SETTING = "CASEDESK_ENCRYPTION_KEYS"


#: How Django's serializers write an encrypted field's value: its token, marked.
SERIALIZED_PREFIX = "encrypted:"
_reading_serialized = contextvars.ContextVar("casedesk_reading_serialized_tokens",
                                             default=False)


class IdentityDecryptionError(Exception):
    """A stored encrypted value could not be decrypted with the configured keys."""


@contextlib.contextmanager
def reading_serialized_tokens():
    """Within this block, encrypted fields read `encrypted:<token>` (what dumpdata wrote) as
    the value the token holds. Only loaddata opens it."""
    marker = _reading_serialized.set(True)
    try:
        yield
    finally:
        _reading_serialized.reset(marker)


# --- keys -------------------------------------------------------------------------------------

def configured_keys() -> tuple[str, ...]:
    keys = getattr(settings, SETTING, None) or ()
    if isinstance(keys, str):
        keys = keys.split(",")
    keys = tuple(k.strip() for k in keys if k and k.strip())
    if not keys:
        raise ImproperlyConfigured(
            f"{SETTING} is empty: protected source identities cannot be read or written. "
            "Set it to a comma-separated list of Fernet keys (the first encrypts).")
    return keys


@functools.lru_cache(maxsize=8)
def _fernets(keys: tuple[str, ...]) -> tuple[MultiFernet, Fernet]:
    try:
        fernets = [Fernet(key) for key in keys]
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            f"{SETTING} holds a value that is not a Fernet key (32 url-safe base64-encoded "
            "bytes; make one with `python -c \"from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())\"`).") from exc
    return MultiFernet(fernets), fernets[0]


def multi_fernet() -> MultiFernet:
    """Every configured key: the first encrypts, all decrypt."""
    return _fernets(configured_keys())[0]


def newest_fernet() -> Fernet:
    return _fernets(configured_keys())[1]


def generate_key() -> str:
    return Fernet.generate_key().decode()


# --- tokens -----------------------------------------------------------------------------------

@sensitive_variables("plaintext")
def encrypt(plaintext: str) -> str:
    return multi_fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


@sensitive_variables()
def decrypt(token, *, label: str = "an encrypted field") -> str:
    """The plaintext of `token`, or IdentityDecryptionError naming `label`."""
    try:
        if isinstance(token, memoryview):
            token = bytes(token)
        if isinstance(token, str):
            token = token.encode("ascii")
        return multi_fernet().decrypt(token).decode("utf-8")
    except (InvalidToken, UnicodeError, TypeError, ValueError) as exc:
        raise IdentityDecryptionError(
            f"Cannot decrypt {label}: the stored value does not open with any key in "
            f"{SETTING} (a wrong or missing key, or a value that was written without "
            "encryption). Nothing is shown rather than ciphertext or an empty value."
        ) from exc


def is_under_newest_key(token: str) -> bool:
    """Whether `token` was encrypted with the first (newest) configured key."""
    try:
        newest_fernet().decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeError):
        return False
    return True


def opens(token: str) -> bool:
    """Whether any configured key decrypts `token`."""
    try:
        multi_fernet().decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeError):
        return False
    return True


def rotate(token: str) -> str:
    """`token` re-encrypted under the newest key (its timestamp kept)."""
    return multi_fernet().rotate(token.encode("ascii")).decode("ascii")


# --- fields -----------------------------------------------------------------------------------

class EncryptedFieldMixin:
    """Encrypts on the way to the database, decrypts on the way back. Stored as text."""

    encrypted = True

    def __init__(self, *args, **kwargs):
        for option in ("primary_key", "unique", "db_index"):
            if kwargs.get(option):
                raise ImproperlyConfigured(
                    f"{type(self).__name__} cannot be {option}: its ciphertext differs "
                    "every time the same value is encrypted.")
        super().__init__(*args, **kwargs)

    def get_internal_type(self):
        # A token is ~1.4 times the size of its plaintext and then some: a text column,
        # whatever max_length the form enforces.
        return "TextField"

    @property
    def encrypted_label(self) -> str:
        model = getattr(self, "model", None)
        if model is None:
            return self.name or "an encrypted field"
        return f"{model._meta.label}.{self.name}"

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return decrypt(value, label=self.encrypted_label)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None:
            return None
        return encrypt(str(value))

    def value_to_string(self, obj):
        """What dumpdata writes: a fresh token, never the plaintext."""
        value = self.value_from_object(obj)
        if value is None:
            return None
        return SERIALIZED_PREFIX + encrypt(str(value))

    def to_python(self, value):
        if (_reading_serialized.get() and isinstance(value, str)
                and value.startswith(SERIALIZED_PREFIX)):
            return decrypt(value[len(SERIALIZED_PREFIX):], label=self.encrypted_label)
        return super().to_python(value)

    def get_lookup(self, lookup_name):
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        raise FieldError(
            f"{self.encrypted_label} is encrypted and supports no '{lookup_name}' lookup: its "
            "values cannot be searched, filtered or compared in the database.")

    def get_transform(self, lookup_name):
        raise FieldError(
            f"{self.encrypted_label} is encrypted and supports no '{lookup_name}' transform.")


class EncryptedCharField(EncryptedFieldMixin, models.CharField):
    """A CharField (a one-line input, max_length enforced on the plaintext) stored encrypted
    in a text column."""


class EncryptedTextField(EncryptedFieldMixin, models.TextField):
    pass


def encrypted_fields(model) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if isinstance(f, EncryptedFieldMixin)]


# --- stored tokens, read and written around the field ------------------------------------
#
# Key rotation and the migration that encrypted the first plaintext rows work on what is
# stored: the field would decrypt on read and encrypt on write.

def raw_rows(queryset, field_names, *, limit=None):
    """(pk, {field: stored text}) for the rows of `queryset` (the first `limit` of them, by
    primary key), the values as stored."""
    raw = {f"_stored_{name}": Cast(name, models.TextField()) for name in field_names}
    rows = queryset.annotate(**raw).order_by("pk").values_list("pk", *raw)
    if limit is not None:
        rows = rows[:limit]
    for pk, *values in rows:
        yield pk, dict(zip(field_names, values, strict=True))


def write_raw(manager, pk, values: dict) -> None:
    """Store `values` ({field: text}) as they are, bypassing the field's encryption."""
    manager.filter(pk=pk).update(**{
        name: Value(value, output_field=models.TextField()) for name, value in values.items()
    })


# --- system check -----------------------------------------------------------------------------

@checks.register(checks.Tags.security)
def check_encryption_keys(app_configs=None, **kwargs):
    try:
        _fernets(configured_keys())
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="casedesk.E001")]
    return []


@checks.register(checks.Tags.security, deploy=True)
def check_encryption_keys_deploy(app_configs=None, **kwargs):
    """`check --deploy`: the published development key has no place in a deployment."""
    development_key = getattr(settings, "CASEDESK_DEVELOPMENT_ENCRYPTION_KEY", None)
    try:
        keys = configured_keys()
    except ImproperlyConfigured:
        return []  # reported by check_encryption_keys
    if development_key and development_key in keys:
        return [checks.Error(
            f"{SETTING} contains the development key from settings.py; a deployment needs "
            "keys of its own.", id="casedesk.E002")]
    return []
