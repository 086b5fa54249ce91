"""Django settings, read from the environment through carereach.config (see README's table)."""

from __future__ import annotations

import os
from pathlib import Path

import django_stubs_ext

from carereach import config

django_stubs_ext.monkeypatch()

env = os.environ
PACKAGE_DIR = Path(__file__).resolve().parent
HOME = Path(env.get("CARE_HOME") or Path.cwd()).resolve()
VAR_DIR = HOME / "var"

SECRET_KEY = config.secret_key(env)
FIELD_KEYS = config.field_keys(env)
DEBUG = config.boolean(env, "CARE_DEBUG", False)
ALLOWED_HOSTS = config.host_list(env, "CARE_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = config.host_list(env, "CARE_CSRF_TRUSTED_ORIGINS", [])
# Where recipients reach us: preference pages, unsubscribe and tracked links are built on it.
CARE_PUBLIC_URL = config.url(env, "CARE_PUBLIC_URL", "http://127.0.0.1:8000")
# Tracked links in messages: a short domain routed to this app's /l/ path; default the public URL.
CARE_SHORT_URL = config.url(env, "CARE_SHORT_URL", CARE_PUBLIC_URL)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",
    "carereach.security",
    "carereach.channels",
    "carereach.audience",
    "carereach.consent",
    "carereach.content",
    "carereach.messaging",
    "carereach.campaigns",
    "carereach.insights",
    "carereach.engagement",
    "carereach.journeys",
    "carereach.analytics",
    "carereach.ingest",
    "carereach.console",
    "carereach.interop",
]

MIDDLEWARE = [
    "carereach.security.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "carereach.security.middleware.IdleLogoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "carereach.urls"
WSGI_APPLICATION = "carereach.wsgi.application"
ASGI_APPLICATION = "carereach.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "carereach.console.context.navigation",
            ],
        },
    },
]

DATABASES = {"default": config.database(env, VAR_DIR / "carereach.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:dashboard"
LOGOUT_REDIRECT_URL = "console:login"

# Automatic log-off (HIPAA 164.312(a)(2)(iii)): the session ends after this many idle minutes.
IDLE_LOGOUT_MINUTES = config.integer(env, "CARE_IDLE_LOGOUT_MINUTES", 15, minimum=1)
SESSION_COOKIE_AGE = IDLE_LOGOUT_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_COOKIES = config.boolean(env, "CARE_SECURE_COOKIES", False)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# How often a worker writes its heartbeat, and how stale one may be before health says "down".
WORKER_HEARTBEAT_SECONDS = config.integer(env, "CARE_WORKER_HEARTBEAT_SECONDS", 10, minimum=1)
WORKER_STALE_SECONDS = config.integer(env, "CARE_WORKER_STALE_SECONDS", 60, minimum=2)

# Public sign-up pages: POSTs allowed per client network address (SMS-pumping guard).
SIGNUP_PER_HOUR = config.integer(env, "CARE_SIGNUP_PER_HOUR", 10, minimum=1)
SIGNUP_PER_DAY = config.integer(env, "CARE_SIGNUP_PER_DAY", 50, minimum=1)
# Delivery: which provider carries each channel (the built-in sandbox unless set), how many due
# messages a worker claims at once, and how often a transient failure is tried again.
CHANNEL_PROVIDERS = {
    channel: env.get(f"CARE_{channel.upper()}_PROVIDER", "sandbox").strip() or "sandbox"
    for channel in ("sms", "email", "voice", "letter")
}
DISPATCH_BATCH = config.integer(env, "CARE_DISPATCH_BATCH", 200, minimum=1)
# Segments per second per sender, e.g. "+14155550100=4,12345=100"; others go by sender kind.
SENDER_RATES = config.rates(env, "CARE_SENDER_RATES")
SEND_MAX_ATTEMPTS = config.integer(env, "CARE_SEND_MAX_ATTEMPTS", 5, minimum=1)
# A message claimed by a worker that then went silent this long has an unknown outcome.
SEND_STALE_SECONDS = config.integer(env, "CARE_SEND_STALE_SECONDS", 300, minimum=30)
# A send the provider did not answer in time is looked up at the provider after this long (it
# must be done with the request by then) before it is ever sent again.
SEND_RECONCILE_SECONDS = config.integer(env, "CARE_SEND_RECONCILE_SECONDS", 60, minimum=1)
# Analytics: a conversion is credited to the last message sent to the person this many days before.
ATTRIBUTION_WINDOW_DAYS = config.integer(env, "CARE_ATTRIBUTION_WINDOW_DAYS", 7, minimum=1)
# Senders for messages a program does not name one for (HELP from a stranger, say).
DEFAULT_SMS_SENDER = env.get("CARE_DEFAULT_SMS_SENDER", "+15550100000")
DEFAULT_EMAIL_SENDER = env.get("CARE_DEFAULT_EMAIL_SENDER", "no-reply@carereach.invalid")
# E-mail with CARE_EMAIL_PROVIDER=smtp goes through Django's SMTP backend to this server.
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = env.get("CARE_SMTP_HOST", "localhost")
EMAIL_PORT = config.integer(env, "CARE_SMTP_PORT", 25, minimum=1)
EMAIL_HOST_USER = env.get("CARE_SMTP_USER", "")
EMAIL_HOST_PASSWORD = env.get("CARE_SMTP_PASSWORD", "")
EMAIL_USE_TLS = config.boolean(env, "CARE_SMTP_STARTTLS", False)
EMAIL_TIMEOUT = config.integer(env, "CARE_SMTP_TIMEOUT", 10, minimum=1)
# Letters (the daily batch for a mail house): a Unicode TTF to set them in; "" looks for
# DejaVu Sans where Debian puts it, else Helvetica (Latin-1 only).
LETTER_FONT = env.get("CARE_LETTER_FONT", "").strip()
# Mail services' tracking webhooks (/mail-events/<service>/tracking/, through django-anymail):
# basic auth "user:password" (comma-separated to rotate), and Mailgun's webhook signing key.
ANYMAIL = {
    "WEBHOOK_SECRET": [
        part.strip() for part in env.get("CARE_EMAIL_WEBHOOK_SECRET", "").split(",") if part.strip()
    ],
    "MAILGUN_WEBHOOK_SIGNING_KEY": env.get("CARE_MAILGUN_WEBHOOK_SIGNING_KEY", "").strip(),
}
# Twilio (CARE_SMS_PROVIDER=twilio): credentials are checked when the provider is chosen, so a
# process that never sends through Twilio does not need them. Callbacks go to CARE_PUBLIC_URL.
TWILIO_ACCOUNT_SID = env.get("CARE_TWILIO_ACCOUNT_SID", "").strip()
TWILIO_AUTH_TOKEN = env.get("CARE_TWILIO_AUTH_TOKEN", "").strip()
TWILIO_API_BASE = config.url(env, "CARE_TWILIO_API_BASE", "https://api.twilio.com")
TWILIO_TIMEOUT_SECONDS = config.integer(env, "CARE_TWILIO_TIMEOUT_SECONDS", 5, minimum=1)
# Requests to Twilio in flight at once per worker process.
TWILIO_CONCURRENCY = config.integer(env, "CARE_TWILIO_CONCURRENCY", 32, minimum=1)
# Behind a load balancer that terminates TLS: rebuild the URL a carrier signed from its
# X-Forwarded-Proto/Host/Port headers. Only when the balancer sets them (clients cannot).
TRUST_PROXY = config.boolean(env, "CARE_TRUST_PROXY", False)
# Proxies whose X-Forwarded-For gives `carereach web` the client's address (comma-separated IPs
# or networks; "*" trusts every peer: only behind a balancer that overwrites the header).
FORWARDED_ALLOW_IPS = env.get("CARE_FORWARDED_ALLOW_IPS", "127.0.0.1").strip() or "127.0.0.1"

LOG_LEVEL = env.get("CARE_LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "carereach.security.log_filters.RequestIdFilter"},
        "redact": {"()": "carereach.security.log_filters.RedactFilter"},
    },
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id", "redact"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "uvicorn.access": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},  # one INFO line per carrier call otherwise
    },
}
