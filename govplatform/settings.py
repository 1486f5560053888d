"""One settings module, driven by environment variables.

With no variables set the platform runs on the embedded default: SQLite in the data folder, Celery
tasks run eagerly in-process, nonces kept in the database. ``DATABASE_URL`` switches to PostgreSQL
(psycopg 3); ``REDIS_URL`` switches Celery to a Redis broker and the nonce store to Redis.
Secrets may be given directly or as a path in ``NAME_FILE``.
"""

import datetime as dt
import os
import secrets
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def envbool(name: str, default: bool) -> bool:
    """A yes/no switch. Anything but a clear spelling stops startup: a misspelt security switch must
    not quietly mean "off"."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={os.environ[name]!r} is not a yes/no value; use one of {', '.join(_TRUE)} or "
        f"{', '.join(_FALSE)} (any case), or leave it empty for the default ({'on' if default else 'off'})."
    )


def envint(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name}={os.environ[name]!r} is not a whole number; set it to one, e.g. {default}, "
            "or leave it empty for that default."
        ) from None


def envchoice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, "").strip().lower() or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} is not one of {', '.join(choices)}.")
    return value


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def env_secret(name: str) -> str:
    """A secret from ``NAME`` or from the file named by ``NAME_FILE``; a named file must be readable."""
    if os.environ.get(name):
        return os.environ[name]
    path = os.environ.get(f"{name}_FILE")
    if not path:
        return ""
    try:
        secret = Path(path).read_text().strip()
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {exc.strerror or exc}.") from None
    if not secret:
        raise ImproperlyConfigured(f"{name}_FILE={path!r} is empty.")
    return secret


# Git-ignored folder for the embedded database, generated keys and the local secret.
DATA_DIR = Path(env("PLATFORM_DATA_DIR", str(BASE_DIR / "data")))


def _local_secret(path: Path) -> str:
    """A secret kept in the data folder (mode 0600), made once. Production sets the variable instead."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process starting at the same moment made it: use theirs
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = env_secret("SECRET_KEY") or _local_secret(DATA_DIR / "secret_key")
DEBUG = envbool("DEBUG", False)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if envbool("BEHIND_TLS_PROXY", False) else None
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = envbool("SECURE_COOKIES", False)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# TLS deployments (README, "In production"): redirect plain HTTP, and tell browsers to use HTTPS only.
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # a load balancer's probe may speak plain HTTP to the app
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# A strict Content Security Policy on every page, the admin and the API (django-csp): scripts, styles,
# fonts and images only from the platform itself, never inline (no 'unsafe-inline' anywhere); no
# plugins, no framing, forms post only to the platform. Swagger UI's icons are data: images.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "csp",
    "django_otp",  # second factor (TOTP) for approvers, auditors, department admins, platform roles
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",  # recovery codes
    "axes",  # login lockout after repeated failures (see "Logins" below)
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles: its runserver passes the raw request-target on (govplatform/rawuri.py).
    "govplatform",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "audit",
    "registry",
    "notifications",
    "catalog",
    "exchange",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The person's chosen language (cookie), else Accept-Language, else Simplified Chinese.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # whether the person passed their second factor (user.is_verified)
    "django.contrib.messages.middleware.MessageMiddleware",
    # After authentication and messages: ends a session past its working day or its idle limit.
    "govplatform.middleware.SessionLimitsMiddleware",
    # Then: the people who need a second factor pass it before any other admin page (registry/second_factor.py).
    "govplatform.middleware.SecondFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",  # the Content-Security-Policy header on every response
    # Last: answers a locked-out sign-in with the lockout page (django-axes).
    "axes.middleware.AxesMiddleware",
]

# --- Logins: locked after repeated failures, per account and per source address (django-axes) ---
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=envint("LOGIN_LOCKOUT_MINUTES", 30))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one: an account, or an address trying many accounts
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "govplatform.views.login_locked"  # the admin's own page, 429
AXES_ENABLE_ADMIN = False  # the operator unlocks through the audited service (registry.services.login_unlock)
AXES_CLIENT_IP_CALLABLE = "registry.services.client_address"
AXES_VERBOSE = False  # the audit log records every failure and lockout; no second, unaudited trail
# Sessions: at most a working day, and ended after this long without activity (govplatform/middleware.py). A
# password change ends the person's other sessions (Django's session hash); a role change ends all of them.
# --- A second factor (TOTP) for approvers, auditors, department admins and the platform roles (django-otp) ---
# Off only for a demo (make demo switches it off, and every start says so: system check registry.W001).
TWO_FACTOR_REQUIRED = envbool("TWO_FACTOR_REQUIRED", True)
OTP_TOTP_ISSUER = env("TWO_FACTOR_ISSUER", "政务数据共享平台")  # the entry's name in the authenticator app
OTP_TOTP_THROTTLE_FACTOR = OTP_STATIC_THROTTLE_FACTOR = 1  # each wrong code doubles the wait: 1 s, 2 s, 4 s...

SESSION_MAX_HOURS = envint("SESSION_MAX_HOURS", 8)
SESSION_IDLE_MINUTES = envint("SESSION_IDLE_MINUTES", 30)
SESSION_COOKIE_AGE = SESSION_MAX_HOURS * 3600

ROOT_URLCONF = "govplatform.urls"
WSGI_APPLICATION = "govplatform.wsgi.application"
ASGI_APPLICATION = "govplatform.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "govplatform" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "notifications.context_processors.inbox",  # the unread count in the admin header
            ],
        },
    },
]

# --- Database: PostgreSQL via DATABASE_URL, SQLite in the data folder otherwise ---
DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 60))}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env("SQLITE_PATH", str(DATA_DIR / "db.sqlite3")),
            # IMMEDIATE takes the write lock at BEGIN, so concurrent writers wait instead of failing.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
            # A file, not memory, so that tests can start server processes on the test database.
            "TEST": {"NAME": str(DATA_DIR / "test-db.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Simplified Chinese by default; English one click away (the language chooser) or by Accept-Language.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "language"
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_HTTPONLY = True
TIME_ZONE = env("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- Redis: the Celery broker and the nonce store when REDIS_URL is set ---
REDIS_URL = env("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL  # embedded default: tasks run in-process
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A broker that is down must not hold a request for long: the event is already committed and the
# periodic sequencer run picks it up.
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_timeout": 2, "socket_connect_timeout": 2}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5,
                                    "interval_max": 0.5}
AUDIT_SEQUENCE_INTERVAL = envint("AUDIT_SEQUENCE_INTERVAL", 10)  # seconds between the beat's sequencer runs
CELERY_BEAT_SCHEDULE = {
    # Catches any event whose after-commit enqueue was lost (broker down): the event is in the
    # database first, the broker only wakes the sequencer.
    "audit-sequence": {"task": "audit.log_sequence", "schedule": AUDIT_SEQUENCE_INTERVAL},
    "nonce-purge": {"task": "registry.nonce_purge", "schedule": 3600},
    # Emails whose after-commit send was lost (broker or mail server down) are sent again.
    "notifications-email-pending": {"task": "notifications.email_pending", "schedule": 300},
    # The request clock: reminders, escalations, grant expiry (idempotent; each fires once per request).
    "requests-clock": {"task": "exchange.requests_clock", "schedule": envint("REQUESTS_CLOCK_INTERVAL", 600)},
    # Refusals counted per source and window become one audit event each once their window closes.
    # Export files whose download link expired are deleted.
    "exchange-exports-expire": {"task": "exchange.exports_expire", "schedule": 300},
    "audit-refusals-flush": {"task": "audit.refusals_flush", "schedule": envint("AUDIT_REFUSAL_WINDOW_SECONDS", 60)},
}
# In the embedded default (no broker, no beat process) the serving process runs the beat schedule itself.
EMBEDDED_BEAT = envbool("EMBEDDED_BEAT", True)
# After a commit the sequencer is woken at most once per this many milliseconds per process; the
# run at the window's end appends every event committed in it.
AUDIT_SEQUENCE_DEBOUNCE_SECONDS = envint("AUDIT_SEQUENCE_DEBOUNCE_MS", 250) / 1000
NONCE_STORE = envchoice("NONCE_STORE", "redis" if REDIS_URL else "database", ("redis", "database"))

# --- Email (notifications): printed to the console in the embedded default; SMTP when EMAIL_HOST is set ---
EMAIL_HOST = env("EMAIL_HOST")
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST
                    else "django.core.mail.backends.console.EmailBackend")
EMAIL_PORT = envint("EMAIL_PORT", 587)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", True)
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "数据共享平台 <noreply@govplatform.example>")

# --- Access requests: the working-day clock (China's calendar of holidays and make-up working days) ---
REQUEST_DEADLINE_WORKING_DAYS = envint("REQUEST_DEADLINE_WORKING_DAYS", 10)  # 2016 interim measures, art. 14
REQUEST_REMIND_WORKING_DAYS = envint("REQUEST_REMIND_WORKING_DAYS", 2)  # "due soon": this many working days left
REQUEST_HANDOVER_WORKING_DAYS = envint("REQUEST_HANDOVER_WORKING_DAYS", 3)  # time given after an escalation
GRANT_EXPIRY_NOTICE_DAYS = envint("GRANT_EXPIRY_NOTICE_DAYS", 30)  # consumers are told this long before expiry

# --- Where the platform is published: the base of the catalogue's stable URIs (DCAT-AP), never taken
# from a request's Host header, so a dataset's URI is the same whoever asks ---
PLATFORM_BASE_URL = env("PLATFORM_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

# --- Record imports: uploads wait in IMPORTS_DIR (storage shared with the Celery workers when they run
# elsewhere); files up to IMPORT_INLINE_MAX_BYTES are checked and applied inside the request ---
IMPORTS_DIR = Path(env("IMPORTS_DIR", str(DATA_DIR / "imports")))
IMPORT_MAX_UPLOAD_BYTES = envint("IMPORT_MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
IMPORT_INLINE_MAX_BYTES = envint("IMPORT_INLINE_MAX_BYTES", 2 * 1024 * 1024)

# --- The platform's own Ed25519 key: signs exchange responses and audit checkpoints ---
PLATFORM_SIGNING_KEY_FILE = Path(env("PLATFORM_SIGNING_KEY_FILE", str(DATA_DIR / "platform-signing-key.pem")))

# --- RFC 9421 policy for signed requests ---
SIGNATURE_MAX_AGE_SECONDS = envint("SIGNATURE_MAX_AGE_SECONDS", 300)
SIGNATURE_CLOCK_SKEW_SECONDS = envint("SIGNATURE_CLOCK_SKEW_SECONDS", 30)

# --- The exchange's limits (exchange/gateway.py): past them, a signed JSON refusal, counted in the audit log ---
# Requests a minute from one source address (before the signature is checked) and from one system (after).
EXCHANGE_RATE_PER_SOURCE = envint("EXCHANGE_RATE_PER_SOURCE", 1200)
EXCHANGE_RATE_PER_SYSTEM = envint("EXCHANGE_RATE_PER_SYSTEM", 600)
EXCHANGE_RATE_WINDOW_SECONDS = envint("EXCHANGE_RATE_WINDOW_SECONDS", 60)
# A request body (a bulk lookup, a pushed batch) and the query string's parameters.
EXCHANGE_MAX_BODY_BYTES = envint("EXCHANGE_MAX_BODY_BYTES", 2 * 1024 * 1024)
EXCHANGE_MAX_QUERY_PARAMS = envint("EXCHANGE_MAX_QUERY_PARAMS", 50)
EXCHANGE_MAX_TARGET_LENGTH = envint("EXCHANGE_MAX_TARGET_LENGTH", 4096)
# Django's own cap on a body it reads, kept above ours so ours answers first.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(2_621_440, EXCHANGE_MAX_BODY_BYTES + 1)
# An export's download link (exchange/exports.py) works once, for this many seconds after the file is ready.
EXPORT_LINK_SECONDS = envint("EXPORT_LINK_SECONDS", 900)
# Refusals of callers the platform cannot verify are counted per source address and window, one audit event each.
AUDIT_REFUSAL_WINDOW_SECONDS = envint("AUDIT_REFUSAL_WINDOW_SECONDS", 60)

# --- Audit log ---
AUDIT_LOG_ORIGIN = env("AUDIT_LOG_ORIGIN", "govplatform.example/audit")
# Seconds between signed checkpoints: the sequencer appends every run, but signs a new tree head at most this
# often (0: after every batch). A leaf is under a checkpoint within this plus AUDIT_SEQUENCE_INTERVAL.
AUDIT_CHECKPOINT_INTERVAL = envint("AUDIT_CHECKPOINT_INTERVAL", 5)
# Key for the keyed hashes of subject identifiers (citizen/company ids) kept in audit events. Its own
# secret, never derived from SECRET_KEY: rotating Django's secret must not make the hashes incomparable,
# and knowing one must not give the other. Never rotate it.
AUDIT_SUBJECT_HASH_KEY = env_secret("AUDIT_SUBJECT_HASH_KEY") or _local_secret(DATA_DIR / "subject_hash_key")
# Key of the per-grant pseudonyms (exchange/terms.py): with each grant's salt it makes that grant's HMAC key. Its
# own secret; it never leaves the platform. Rotating it changes every consumer's pseudonyms.
PSEUDONYM_KEY = env_secret("PSEUDONYM_KEY") or _local_secret(DATA_DIR / "pseudonym_key")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    # Deny unless a view says otherwise: signed exchange views verify signatures themselves.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["core.rendering.ORJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # The API answers JSON only; ``?format=`` is free for the catalogue's format facet.
    "URL_FORMAT_OVERRIDE": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": _("Government data-sharing platform: exchange API"),
    "DESCRIPTION": _(
        "Signed record exchange between departments. Every request is signed per RFC 9421 with the "
        "calling system's Ed25519 key, covering `@method`, `@target-uri` and the parameters `created`, "
        "`expires`, `keyid`, `nonce` (and `content-digest` when there is a body). Every response is "
        "signed by the platform key, covering `@status`, `content-digest`, the audit receipt headers "
        "and the request's signature (`;req`). Errors are `{\"error\": {\"code\", \"message\", \"detail\"}}`: "
        "each operation lists the codes it can return, the `ErrorCode` schema lists them all with their "
        "HTTP status. `code` is a stable English identifier; `message` follows Accept-Language "
        "(Simplified Chinese by default, or English)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {"ExportFormatEnum": ["csv", "jsonl"]},
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "httpMessageSignature": {
                "type": "apiKey",
                "in": "header",
                "name": "Signature",
                "description": _("RFC 9421 HTTP Message Signature (Ed25519) with its Signature-Input header."),
            }
        }
    },
    "SECURITY": [{"httpMessageSignature": []}],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "core.errors.schema_add_error_codes"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_record_keys": {"()": "core.logging.RedactRecordKeys"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact_record_keys"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        # Access and error logs carry request paths; record keys are personal data.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.request": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "celery.app.trace": {"level": "WARNING"},
        "kombu": {"level": "WARNING"},
    },
}
