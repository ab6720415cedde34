"""Gunicorn's settings for production. `gunicorn` run from the project folder reads this file
by itself (`gunicorn -c gunicorn.conf.py` says so explicitly); the WSGI app is config.wsgi.

Casedesk is meant to run behind a TLS-terminating reverse proxy on the same host:

    DEBUG=false SECRET_KEY=… CASEDESK_ENCRYPTION_KEYS=… ALLOWED_HOSTS=casedesk.example \\
        DATABASE_URL=postgres://… gunicorn

Every knob below can be set from the environment.

The Server header: gunicorn sends `Server: gunicorn`, never its version (the version is only
in the WSGI environ's SERVER_SOFTWARE, which Django does not send back). Nothing to configure;
tests/test_http_security.py starts gunicorn with this file and checks the header.
"""

import os

wsgi_app = "config.wsgi:application"

# Where the reverse proxy reaches us: loopback by default, never every interface.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30

# HTTPS behind the proxy: gunicorn believes X-Forwarded-Proto (and its two older spellings)
# only from these addresses, and then tells Django the request is secure. That is the safer
# way to know about HTTPS: Django's SECURE_PROXY_SSL_HEADER (settings.py) believes the header
# whoever sent it, so it is only for a proxy that always overwrites it. List the proxy's
# address(es) here when it runs on another host. config/settings.py reads the same variable:
# only these may name the client in X-Forwarded-For, which sign-in throttling counts by.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Request limits: gunicorn's defaults, written down so that nobody raises them by accident.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

# No access log unless asked for (GUNICORN_ACCESS_LOG=- for stdout, or a path): request lines
# name cases and records, and logs are among the things we assume will leak.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"

# Gunicorn's runtime control socket (gunicornc) is not used: one thing less listening.
control_socket_disable = True


def post_worker_init(worker):
    """The worker has loaded the app: freeze it and collect less often (config/gc_policy.py)."""
    from config.gc_policy import settle_after_startup

    settle_after_startup()
