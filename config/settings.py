"""Casedesk settings: one module, every deployment knob read from the environment.

Local defaults are safe for a laptop demo (SQLite file, DEBUG on, development key). With
DEBUG off the process refuses to start without a real SECRET_KEY.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=True)

_DEVELOPMENT_SECRET_KEY = "casedesk-local-development-only-not-for-production"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off; Casedesk refuses to start without one."
        )
    SECRET_KEY = _DEVELOPMENT_SECRET_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "config.admin.CasedeskAdminConfig",  # django.contrib.admin on our site (config/admin.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_countries",
    "django_filters",
    "simple_history",
    "csp",  # django-csp: its system checks (the policy itself is set by its middleware)
    # django-axes: sign-in throttling (its tables hold recent failed attempts); named in the
    # back office in the reader's language (config/apps.py)
    "config.apps.SignInAttemptsConfig",
    # django-allauth: the sign-in flow, with its two-factor stage (TOTP, recovery codes,
    # security keys) from allauth.mfa. Only these two parts: no social accounts, no sign-up.
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "cases",
    # The REST API (api/): Django REST Framework, the OpenAPI schema; tokens are api's own.
    "rest_framework",
    "drf_spectacular",
    "api",
    # Background work (background/, docs/architecture.md "Background work"): Django's Tasks
    # framework (the backport; on Django 6 `django.tasks` needs no app), its database backend,
    # and our module, which application code calls and which retries failed tasks.
    "django_tasks",
    "config.apps.BackgroundTaskResultsConfig",  # django_tasks_db, named as in config/apps.py
    "background",
    # Captures of cited pages (capture/): archived, photographed, hashed, timestamped.
    "capture",
    # A user's own interface settings: their language (preferences/language.py).
    "preferences",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before whitenoise so that static files and the TRACE refusal carry the policy too.
    "csp.middleware.CSPMiddleware",
    "config.middleware.SecurityHeadersMiddleware",
    # A NUL byte in the path or query string is a 400 here, before any lookup meets it.
    "config.middleware.RefuseNulBytesMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The page's language: the signed-in user's stored choice (kept in the session at
    # sign-in), else the switcher's cookie, else Accept-Language. After sessions, before
    # CommonMiddleware, as Django's LocaleMiddleware asks.
    "preferences.middleware.PreferredLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Pages for a signed-in user are never stored by the browser or a proxy (needs request.user).
    "config.middleware.NoStoreForSignedInMiddleware",
    # A signed-in user's session is saved (its idle expiry moved) once a minute, not per page.
    "config.middleware.SessionRefreshMiddleware",
    # ...and ends SESSION_ABSOLUTE_LIFETIME_SECONDS after sign-in, however active it is.
    "config.middleware.SessionLifetimeMiddleware",
    # Every page needs a signed-in user unless its view says otherwise (sign-in, /healthz).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # allauth's sign-in stages (the two-factor step between password and session).
    "allauth.account.middleware.AccountMiddleware",
    # Editors and admins reach nothing but their account pages until this session has
    # passed a second factor (cases/two_factor.py).
    "cases.two_factor.RequireSecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Records request.user as the author of every history row written during the request.
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into its lockout page (429).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cases.two_factor.two_factor_context",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/casedesk (production, CI) or
# sqlite:///path/to/file.sqlite3. Without it: an SQLite file in the project folder.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# CACHE_URL, e.g. redis://127.0.0.1:6379/0 in production: one cache for every worker. allauth
# counts wrong two-factor codes in it (per user, so across workers only with a shared cache;
# `check --deploy` warns otherwise) and the case pages keep their costly parts in it
# (cases/fragments.py). Without it: each process's own memory, fine for one process.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
CACHES["default"].setdefault("KEY_PREFIX", "casedesk")
# How long a cached page part lives at most: its key changes with any change to the case's
# records; this bounds what no trigger sees (a renamed user).
CASEDESK_FRAGMENT_CACHE_SECONDS = env.int("CASEDESK_FRAGMENT_CACHE_SECONDS", default=600)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
# The languages of the interface. Adding one is its catalogue,
# locale/<code>/LC_MESSAGES/django.po, and a line here, e.g. ("uk", _("Ukrainian")): the
# preference's choices and the navbar's switcher read this list. Django's own catalogues
# translate these names; the switcher shows each in itself (preferences/templatetags).
LANGUAGES = [
    ("en-gb", _("English")),
    ("ru", _("Russian")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The switcher's cookie, for visitors not signed in: a year, never read by scripts (and
# HTTPS-only like the session cookie, below).
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    # Evidence files live outside any web-served folder and have no public URL: they are
    # only ever streamed by a view that checks the requester's case membership.
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env.path("EVIDENCE_ROOT", default=BASE_DIR / "var" / "evidence"),
                    "base_url": None},
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        ),
    },
}

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "cases:dashboard"
LOGOUT_REDIRECT_URL = "account_login"

# --- Sign-in -----------------------------------------------------------------------------
# django-axes throttles sign-in: AxesStandaloneBackend refuses a locked-out attempt before
# ModelBackend checks the password (so the right password is refused too while locked), and
# ModelBackend's get_user() refuses an inactive user, so a disabled account's sessions end on
# their next request. Failures count per username *and* IP address: one person mistyping does
# not lock out colleagues behind the same office address, and a success clears that pair's
# count. A lockout lasts AXES_COOLOFF_MINUTES (0: until an admin resets it; README,
# "Locked out"). Successful sign-ins are not logged by axes: a table of every staff member's IP
# addresses is exactly what a leaked database must not contain.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
_axes_cooloff_minutes = env.int("AXES_COOLOFF_MINUTES", default=30)
AXES_COOLOFF_TIME = (timedelta(minutes=_axes_cooloff_minutes)
                     if _axes_cooloff_minutes > 0 else None)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True
AXES_USERNAME_CALLABLE = "config.auth.axes_username"  # cut to 255 characters (axes' column)
AXES_USERNAME_FORM_FIELD = "login"  # allauth's sign-in form calls the username field `login`
# The address a failure counts under (config/auth.py, client_ip; allauth's limits use it too).
# Behind the reverse proxy every connection comes from the proxy: the client's address is then
# read from X-Forwarded-For, written by the TRUSTED_PROXY_COUNT proxies in front of gunicorn,
# but only on connections from FORWARDED_ALLOW_IPS, the addresses gunicorn trusts for
# X-Forwarded-Proto (gunicorn.conf.py reads the same variable, with the same default). A
# header from anyone else is ignored: it would let them pick a new address for every guess.
AXES_CLIENT_IP_CALLABLE = "config.auth.client_ip"
CASEDESK_TRUSTED_PROXIES = env.list("FORWARDED_ALLOW_IPS", default=["127.0.0.1", "::1"])
CASEDESK_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1)
# The lockout page: our template (it says for how long, and who can help) with status 429.
AXES_LOCKOUT_CALLABLE = "config.auth.lockout_response"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429

# Sessions end at sign-out (LogoutView, POST only), when the browser closes, and after
# SESSION_IDLE_TIMEOUT_SECONDS without a request (default 2 hours): a request saves the
# session, and so pushes its expiry back, once the last save is SESSION_REFRESH_SECONDS old
# (config/middleware.py: not a database write per page view); the database copy expires with
# it, so an idle session is refused by the server, not only forgotten by the browser. Django
# gives a new session key at every sign-in.
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_TIMEOUT_SECONDS", default=2 * 60 * 60)
SESSION_REFRESH_SECONDS = min(60, SESSION_COOKIE_AGE // 10)
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = env.bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", default=True)
# However active, a session ends this long after sign-in (config/middleware.py,
# SessionLifetimeMiddleware): a stolen session cookie, or a browser left open on a shared
# computer, is good for a working day at most. The user then signs in again.
SESSION_ABSOLUTE_LIFETIME_SECONDS = env.int("SESSION_ABSOLUTE_LIFETIME_SECONDS",
                                            default=12 * 60 * 60)

# --- allauth: sign-in and two-factor authentication -----------------------------------------
# Accounts are created by admins: no sign-up, no e-mail flows (a reset link sent by e-mail is a
# phishing lure; an admin resets passwords). Only the URLs config/urls.py lists are served.
ACCOUNT_ADAPTER = "config.auth.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_SESSION_REMEMBER = False  # the session ends with the browser (see below)
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PREVENT_ENUMERATION = True
# "Was this you?" mails when a password or a second factor changes: a hijacked account is
# noticed by its owner. They carry no code and no link that signs anyone in.
ACCOUNT_EMAIL_NOTIFICATIONS = env.bool("ACCOUNT_EMAIL_NOTIFICATIONS", default=True)
# Wrong second-factor codes: 5 per user per 5 minutes (a 6-digit code cannot be guessed that
# way). Wrong passwords are django-axes' job (config/auth.py, AccountAdapter).
ACCOUNT_RATE_LIMITS = {"login_failed": "5/300s/key"}
# Second factors: an authenticator app (TOTP), one-time recovery codes, and security keys or
# passkeys (WebAuthn; browsers only offer it over HTTPS or on localhost). The TOTP secret and
# the recovery-code seed are encrypted with CASEDESK_ENCRYPTION_KEYS (config/auth.py).
MFA_ADAPTER = "config.auth.MFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_TOTP_ISSUER = env.str("MFA_TOTP_ISSUER", default="Casedesk")
MFA_PASSKEY_LOGIN_ENABLED = False  # a key is a second factor here, never the only one
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG  # http://localhost in development only
# Editors and admins must pass a second factor before any page but their account settings
# (cases/two_factor.py). On by default; only the local demo of `make run` switches it off
# (CASEDESK_REQUIRE_2FA=false), and every page then says so. `check --deploy` warns too.
CASEDESK_REQUIRE_2FA = env.bool("CASEDESK_REQUIRE_2FA", default=True)

# --- REST API (api/, docs/architecture.md "REST API") ---------------------------------------
# Token (api/models.py: made in the back office by a session that passed a second factor,
# expiring, revoked by deleting it) or session authentication; a session needs the CSRF token
# on writes. JSON only: DRF's browsable pages carry inline script, which
# the CSP forbids (the documentation page is Swagger UI at /api/docs/).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Strict JSON in (api/parsers.py: no NUL, lone surrogate, NaN or deep nesting reaches a
    # field) and JSON out that cannot fail on the text it echoes (api/renderers.py).
    "DEFAULT_RENDERER_CLASSES": ["api.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.PagePagination",
    "PAGE_SIZE": env.int("API_PAGE_SIZE", default=50),
    "DEFAULT_SCHEMA_CLASS": "api.schema.CasedeskAutoSchema",
    # JSON, with a code, for the bodies Django refuses while DRF reads them (api/exceptions.py).
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
}
# An API token stops working this many days after it was made (api/models.py).
API_TOKEN_LIFETIME_DAYS = env.int("API_TOKEN_LIFETIME_DAYS", default=90)
# ?page_size= is honoured up to this many records.
API_MAX_PAGE_SIZE = env.int("API_MAX_PAGE_SIZE", default=200)
SPECTACULAR_SETTINGS = {
    "TITLE": "Casedesk API",
    "DESCRIPTION": "Cases, incidents, sources, claims, citations, tasks and requests for "
                   "comment of the cases you are a member of. Claim statuses change only "
                   "through the verification workflow (/claims/{id}/transition/ and "
                   "/propose/). Protected source identities are never part of the API.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "CaseStatusEnum": "cases.enums.CaseStatus",
        "VerificationStatusEnum": "cases.enums.VerificationStatus",
        "RoleEnum": "cases.enums.Role",
        # A claim's figure and each of an incident's counts take the same qualifiers.
        "FigureQualifierEnum": "cases.enums.FigureQualifier",
    },
}

# --- Background work (background/) -----------------------------------------------------------
# The queue is a table of the app's own database (django_tasks_db): `manage.py worker`
# processes, any number on any number of machines, take tasks from it. TASKS_BACKEND names
# another backend of Django's Tasks framework; application code only calls background/.
TASKS = {
    "default": {
        "BACKEND": env.str("TASKS_BACKEND", default="django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    },
}
# A task still running this long after it started is taken to have lost its worker (the
# process was killed, its machine went away): a worker puts it back in the queue as a failed
# attempt. Longer than any task may run.
BACKGROUND_ABANDONED_AFTER_SECONDS = env.int("BACKGROUND_ABANDONED_AFTER_SECONDS",
                                             default=60 * 60)
# Called by every worker as it starts: recurring tasks queue their next run if none is queued.
BACKGROUND_ON_WORKER_START = ["capture.tasks.ensure_watch_tick"]

# --- Web captures (capture/) ------------------------------------------------------------------
# A worker captures a cited page with headless Chromium (Debian's chromium package). The
# browser reaches no network itself: capture/network.py makes every request, refusing
# loopback, private, link-local, multicast, reserved and cloud-metadata addresses unless
# CAPTURE_ALLOWED_HOSTS (comma-separated host names, addresses or networks) names them.
CAPTURE_ALLOWED_HOSTS = env.list("CAPTURE_ALLOWED_HOSTS", default=[])
# Every capture request through this proxy, e.g. socks5://127.0.0.1:9050 (Tor); the proxy
# then resolves the names. Empty: direct connections.
CAPTURE_PROXY = env.str("CAPTURE_PROXY", default="")
CAPTURE_CHROMIUM = env.str("CAPTURE_CHROMIUM", default="/usr/bin/chromium")
# One capture's limits: wall-clock time, bytes read, requests made (redirects included).
CAPTURE_TIMEOUT_SECONDS = env.int("CAPTURE_TIMEOUT_SECONDS", default=90)
CAPTURE_MAX_BYTES = env.int("CAPTURE_MAX_BYTES", default=100 * 1024 * 1024)
CAPTURE_MAX_RESOURCES = env.int("CAPTURE_MAX_RESOURCES", default=500)
# RFC 3161 Time-Stamp Authorities (comma-separated, asked in order until one answers) and
# the PEM bundle their chains must lead to (empty: the system's CA bundle). No TSA: captures
# are stored without a timestamp, and `verify_evidence` says so.
CAPTURE_TSA_URL = env.list("CAPTURE_TSA_URL", default=[])
CAPTURE_TSA_CA_FILE = env.str("CAPTURE_TSA_CA_FILE", default="")
# Saving a citation with a public address queues its capture (capture/tasks.py).
CAPTURE_ON_SAVE = env.bool("CAPTURE_ON_SAVE", default=True)
# Watching captured pages (capture/watch.py). A "watch tick" task queues the re-checks that
# are due every CAPTURE_WATCH_TICK_SECONDS; each case re-checks its pages at its own interval
# (CaseWatch, in the admin), this one for a case that has not chosen (0: not at all).
CAPTURE_WATCH_TICK_SECONDS = env.int("CAPTURE_WATCH_TICK_SECONDS", default=10 * 60)
CAPTURE_WATCH_DEFAULT_HOURS = env.int("CAPTURE_WATCH_DEFAULT_HOURS", default=24)
CAPTURE_WATCH_CHECKS_PER_TICK = env.int("CAPTURE_WATCH_CHECKS_PER_TICK", default=500)
# One re-check's limits (a single GET and its redirects, no browser).
CAPTURE_WATCH_TIMEOUT_SECONDS = env.int("CAPTURE_WATCH_TIMEOUT_SECONDS", default=30)
CAPTURE_WATCH_MAX_BYTES = env.int("CAPTURE_WATCH_MAX_BYTES", default=20 * 1024 * 1024)
# A page whose main text differs by fewer words than this is unchanged (a counter, a clock).
CAPTURE_WATCH_MIN_CHANGED_WORDS = env.int("CAPTURE_WATCH_MIN_CHANGED_WORDS", default=3)
# How much of the diff of a changed page is kept.
CAPTURE_WATCH_DIFF_CHARS = env.int("CAPTURE_WATCH_DIFF_CHARS", default=4000)
# Hosts a censor's block redirects to, besides those capture/watch.py names (comma-separated).
CAPTURE_WATCH_BLOCK_HOSTS = env.list("CAPTURE_WATCH_BLOCK_HOSTS", default=[])

# URL fields without a scheme mean https (Django 6's default, adopted now).
FORMS_URLFIELD_ASSUME_HTTPS = True

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"
# A layout naming a field the form lacks is a bug: fail loudly in development and tests.
CRISPY_FAIL_SILENTLY = not DEBUG

# --- HTTP security -----------------------------------------------------------------------
# With DEBUG off every default below is the production one: HTTPS only (redirect, HSTS,
# secure cookies). `manage.py check --deploy --fail-level WARNING` passes with them
# (tests/test_http_security.py runs it). Each can be relaxed from the environment.
SESSION_COOKIE_HTTPONLY = True
# No script of ours reads the CSRF cookie (forms carry the token), so scripts may not either.
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancers probe /healthz over plain HTTP inside the private network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Behind a TLS-terminating proxy, the header it sets, e.g.
# SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https. Only set it when the proxy always
# overwrites that header: otherwise any client can claim HTTPS. Unset: no proxy is trusted.
_proxy_ssl_header = env.list("SECURE_PROXY_SSL_HEADER", default=[])
if _proxy_ssl_header:
    if len(_proxy_ssl_header) != 2:
        raise ImproperlyConfigured(
            "SECURE_PROXY_SSL_HEADER must be two comma-separated values, "
            "e.g. HTTP_X_FORWARDED_PROTO,https."
        )
    SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header)
# HSTS: one year with subdomains once DEBUG is off. `preload` only allows submitting the
# domain to the browsers' preload list (a separate, manual step); turn it off with
# SECURE_HSTS_PRELOAD=false where a subdomain cannot do HTTPS.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)

# Content-Security-Policy (django-csp 4): our own files only, nothing inline, no plugins, no
# <base>, never framed, forms post only to us. `img-src data:` is for the small SVG icons
# that Bootstrap's stylesheet embeds (select arrows, close buttons, the navbar toggler).
# Every page is checked for inline <script> and style="" in tests/test_http_security.py,
# the Django admin included: Django 5.2's admin needs no exception.
# The Map tab's base map (cases/views/maps.py): tiles from CASEDESK_MAP_TILE_URL, a Leaflet
# URL template such as https://tile.example.org/{z}/{x}/{y}.png ({s} for subdomains), with its
# attribution in CASEDESK_MAP_TILE_ATTRIBUTION (plain text). Unset (air-gapped newsrooms, the
# tests, CI): the map draws the vendored Natural Earth outlines instead and fetches nothing.
# The tile server's origin is added to the CSP's img-src below, and nothing else is.
CASEDESK_MAP_TILE_URL = env.str("CASEDESK_MAP_TILE_URL", default="")
CASEDESK_MAP_TILE_ATTRIBUTION = env.str("CASEDESK_MAP_TILE_ATTRIBUTION", default="")


def _tile_origin(template: str) -> str:
    """The CSP source of a tile URL template: its scheme and host, `{s}.` as a wildcard
    subdomain (https://{s}.tile.example.org/... -> https://*.tile.example.org)."""
    from urllib.parse import urlsplit

    parts = urlsplit(template.replace("{s}.", "SUBDOMAIN."))
    if parts.scheme not in ("https", "http") or not parts.hostname or "{" in parts.netloc:
        raise ImproperlyConfigured(
            "CASEDESK_MAP_TILE_URL must be an http(s) URL template with a fixed host, e.g. "
            "https://tile.example.org/{z}/{x}/{y}.png ({s}. allowed as the first label).")
    return f"{parts.scheme}://{parts.netloc.replace('SUBDOMAIN.', '*.')}"


_MAP_TILE_ORIGINS = [_tile_origin(CASEDESK_MAP_TILE_URL)] if CASEDESK_MAP_TILE_URL else []

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *_MAP_TILE_ORIGINS],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# `manage.py seed_demo` creates accounts with a known password: a local demo only. It refuses
# to run unless DEBUG is on or CASEDESK_ALLOW_DEMO says otherwise.
DEMO_ALLOWED = env.bool("CASEDESK_ALLOW_DEMO", default=DEBUG)
DEMO_PASSWORD = env.str("DEMO_PASSWORD", default="casedesk-demo")

# Protected source identities are encrypted at rest (cases/crypto.py) with these Fernet keys,
# never with anything derived from SECRET_KEY. CASEDESK_ENCRYPTION_KEYS is a comma-separated
# list: the first key encrypts, every key decrypts; to rotate, put a new key first, run
# `manage.py rotate_encryption_keys`, then drop the old one. Without it, DEBUG (a laptop demo,
# the tests) falls back to a published development key; with DEBUG off Casedesk refuses to start.
CASEDESK_DEVELOPMENT_ENCRYPTION_KEY = "QVO80GJwttkSzjNyqRR1WmSSADN6KbmoUAgCrtBofRo="
CASEDESK_ENCRYPTION_KEYS = env.list("CASEDESK_ENCRYPTION_KEYS", default=[])
if not CASEDESK_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "CASEDESK_ENCRYPTION_KEYS must be set when DEBUG is off; Casedesk refuses to start "
            "without the keys that protect source identities."
        )
    CASEDESK_ENCRYPTION_KEYS = [CASEDESK_DEVELOPMENT_ENCRYPTION_KEY]

# Evidence uploads (cases/uploads.py). A file over EVIDENCE_MAX_UPLOAD_BYTES is refused with
# its size beside the field; SizeLimitUploadHandler stops keeping its bytes as soon as it
# passes the limit, so it never lands whole in memory or in a temporary file. Files up to
# FILE_UPLOAD_MAX_MEMORY_SIZE (photos, whose metadata may locate a source) stay in memory;
# bigger ones (videos) go to a temporary file in FILE_UPLOAD_TEMP_DIR (default: the system's),
# removed at the end of the request. DATA_UPLOAD_MAX_MEMORY_SIZE bounds the rest of a request
# body (form fields, not files). Stored files are readable by the server's user only.
EVIDENCE_MAX_UPLOAD_BYTES = env.int("EVIDENCE_MAX_UPLOAD_BYTES", default=50 * 1024 * 1024)
FILE_UPLOAD_HANDLERS = [
    "cases.uploads.SizeLimitUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", default=10 * 1024 * 1024)
FILE_UPLOAD_TEMP_DIR = env.str("FILE_UPLOAD_TEMP_DIR", default=None)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # Django's default (2.5 MiB), stated on purpose
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

# Imports (cases/imports.py, docs/import-format.md). A file over a limit is refused as soon as
# it is found over it, before it is read whole: rows and cells are counted as they are read,
# and an XLSX's parts are checked, from its directory, for their unpacked size and ratio.
CASEDESK_IMPORT_MAX_ROWS = env.int("CASEDESK_IMPORT_MAX_ROWS", default=200_000)
CASEDESK_IMPORT_MAX_CELLS = env.int("CASEDESK_IMPORT_MAX_CELLS", default=2_000_000)
CASEDESK_IMPORT_MAX_UNCOMPRESSED_BYTES = env.int("CASEDESK_IMPORT_MAX_UNCOMPRESSED_BYTES",
                                                 default=256 * 1024 * 1024)
CASEDESK_IMPORT_MAX_COMPRESSION_RATIO = env.int("CASEDESK_IMPORT_MAX_COMPRESSION_RATIO",
                                                default=100)
