"""The one settings module of the clearing house, driven by the environment.

With nothing set, the hub runs on embedded defaults (SQLite, Celery tasks in-process, local-memory
cache). With DATABASE_URL and REDIS_URL it runs on PostgreSQL and Redis with real workers and beat.
DJANGO_ENV=production refuses unsafe configuration instead of starting with it.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

# A development-only key: production refuses to start with it (see below and clearinghouse/checks.py).
DEV_SECRET_KEY = "dev-only-insecure-key-change-me-0123456789abcdefghijklmnopqrstuvwxyz"

# Under pytest the default is "test" (fast password hashing); `make test` also sets it explicitly.
DJANGO_ENV = env("DJANGO_ENV", default="test" if "pytest" in sys.modules else "development")
if DJANGO_ENV not in {"development", "production", "test"}:
    raise ImproperlyConfigured("DJANGO_ENV must be development, production or test")
PRODUCTION = DJANGO_ENV == "production"

DEBUG = env.bool("DJANGO_DEBUG", default=not PRODUCTION)
SECRET_KEY = env("DJANGO_SECRET_KEY", default=DEV_SECRET_KEY)
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS",
    default=[] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"],
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

if PRODUCTION:
    problems = []
    if DEBUG:
        problems.append("DJANGO_DEBUG must be off")
    if SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50:
        problems.append("DJANGO_SECRET_KEY must be set to a random value of 50 characters or more")
    if not ALLOWED_HOSTS:
        problems.append("DJANGO_ALLOWED_HOSTS must name the hosts the hub serves")
    if not os.environ.get("FIELD_ENCRYPTION_KEY"):
        problems.append("FIELD_ENCRYPTION_KEY must be set (Fernet key for secrets at rest)")
    if not os.environ.get("CREDENTIAL_PEPPER"):
        problems.append("CREDENTIAL_PEPPER must be set (key for credential lookup hashes)")
    if problems:
        raise ImproperlyConfigured("production configuration refused: " + "; ".join(problems))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "django_celery_beat",
    "clearinghouse.apps.ClearinghouseConfig",
    "partners.apps.PartnersConfig",
    "clearinghouse.routing.apps.RoutingConfig",
    "credentials.apps.CredentialsConfig",
    "locations.apps.LocationsConfig",
    "sessions.apps.ChargingSessionsConfig",
    "settlement.apps.SettlementConfig",
]

MIDDLEWARE = [
    "clearinghouse.middleware.RequestIdMiddleware",
    "clearinghouse.middleware.ApiUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Sessions, the logged-in user and messages serve the admin and the finance pages; the I3
    # API's requests skip them (clearinghouse.middleware).
    "clearinghouse.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "clearinghouse.middleware.AuthenticationMiddleware",
    "clearinghouse.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "clearinghouse.urls"
WSGI_APPLICATION = "clearinghouse.wsgi.application"

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and an immediate write lock let the web process and the scheduler share one file
    # without "database is locked" errors on lock upgrades.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    # Health checks let persistent connections recover after a PostgreSQL restart without
    # restarting the hub.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend, checking only connections that idled (clearinghouse/postgresql/base.py).
        DATABASES["default"]["ENGINE"] = "clearinghouse.postgresql"
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, broker, Celery ------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "clearinghouse.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="ch"),
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "hub"}}

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # kombu's Redis transport, with a closed channel's failure made recoverable (clearinghouse/broker.py).
    CELERY_BROKER_TRANSPORT = "clearinghouse.broker:Transport"
# Without a broker the tasks run in the process that enqueues them; the scheduler (celery beat)
# then runs periodic jobs in its own process, so `make run` needs no Redis.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=25 * 60)
# A task whose worker dies (SIGKILL, OOM) is handed to another worker instead of being lost.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Unset, Celery's Django fix-up closes the database connection around every task: a new PostgreSQL
# connection per delivery. Workers keep theirs instead and, as a web request does, drop it at a
# task's start and end only when it is broken or older than CONN_MAX_AGE (clearinghouse/celery.py).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Embedded mode: tasks enqueued after a commit (deliveries, routed authorizations) run in a
# background thread rather than inside the request that wrote the data. Tests keep them inline.
TASKS_IN_THREAD = env.bool("TASKS_IN_THREAD", default=CELERY_TASK_ALWAYS_EAGER and DJANGO_ENV != "test")

# --- Auth -----------------------------------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if DJANGO_ENV == "test":
    # Argon2 is deliberately slow; tests that do not measure it use a fast hasher.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/finance/login/"

# --- Internationalisation -------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "var" / "static"))
MEDIA_ROOT = env("DJANGO_MEDIA_ROOT", default=str(BASE_DIR / "var" / "media"))

# --- Security -------------------------------------------------------------------------------------
# Key for secrets stored encrypted (partners' HMAC secrets): a Fernet key, or several separated
# by commas (the first encrypts, all decrypt) so keys can be rotated.
FIELD_ENCRYPTION_KEY = env("FIELD_ENCRYPTION_KEY", default="")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True

# --- REST framework and the I3 API ----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["clearinghouse.api.authentication.I3Authentication"],
    "DEFAULT_PERMISSION_CLASSES": ["clearinghouse.api.permissions.IsActivePartner"],
    "DEFAULT_THROTTLE_CLASSES": ["clearinghouse.api.throttling.PartnerRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "clearinghouse.api.pagination.I3CursorPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["clearinghouse.api.parsers.I3JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "clearinghouse.api.negotiation.I3ContentNegotiation",
    "EXCEPTION_HANDLER": "clearinghouse.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "PAGE_SIZE": 100,
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%S.%fZ",
}
I3_ACCESS_TOKEN_MINUTES = env.int("I3_ACCESS_TOKEN_MINUTES", default=20)
I3_REFRESH_TOKEN_HOURS = env.int("I3_REFRESH_TOKEN_HOURS", default=24)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=I3_ACCESS_TOKEN_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(hours=I3_REFRESH_TOKEN_HOURS),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env("JWT_SIGNING_KEY", default=SECRET_KEY),
    "UPDATE_LAST_LOGIN": False,
    "USER_ID_CLAIM": "user_id",
}
I3_SIGNATURE_MAX_SKEW_SECONDS = env.int("I3_SIGNATURE_MAX_SKEW_SECONDS", default=300)
I3_NONCE_TTL_SECONDS = env.int("I3_NONCE_TTL_SECONDS", default=600)
I3_LOGIN_MAX_FAILURES = env.int("I3_LOGIN_MAX_FAILURES", default=5)
I3_LOGIN_LOCK_SECONDS = env.int("I3_LOGIN_LOCK_SECONDS", default=900)
I3_PRINCIPAL_CACHE_SECONDS = env.int("I3_PRINCIPAL_CACHE_SECONDS", default=60)
# Requests per second per partner; bursts above it answer 429 with Retry-After.
I3_THROTTLE_RATES = {
    "default": env("I3_THROTTLE_DEFAULT", default="200/s"),
    "authorization": env("I3_THROTTLE_AUTHORIZATION", default="2000/s"),
    "bulk": env("I3_THROTTLE_BULK", default="50/s"),
}
I3_IDEMPOTENCY_TTL_HOURS = env.int("I3_IDEMPOTENCY_TTL_HOURS", default=24)
# A full load of a large network (10,000 locations) fits; bigger bodies answer 413.
I3_MAX_BODY_BYTES = env.int("I3_MAX_BODY_BYTES", default=64 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = I3_MAX_BODY_BYTES
# The plumbing loads the caller (partner, roles, secret) through the partner registry, which sits
# above it; an import string keeps the dependency arrow pointing down.
I3_PRINCIPAL_LOADER = "partners.selectors.principal_load"

SPECTACULAR_SETTINGS = {
    "TITLE": "Clearing house I3 API",
    "DESCRIPTION": (
        "The hub side (I3) of IEC 63119: partners, credentials and authorization, EVSE data, "
        "remote control and sessions, service detail records and settlement. Every request is "
        "signed with HMAC (see docs/api.md) and, except the login, carries a bearer token."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/i3/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
}

# --- Outbound routing -----------------------------------------------------------------------------
ROUTING_CONNECT_TIMEOUT = env.float("ROUTING_CONNECT_TIMEOUT", default=3.0)
ROUTING_READ_TIMEOUT = env.float("ROUTING_READ_TIMEOUT", default=10.0)
ROUTING_MAX_ATTEMPTS = env.int("ROUTING_MAX_ATTEMPTS", default=12)
ROUTING_BACKOFF_BASE_SECONDS = env.float("ROUTING_BACKOFF_BASE_SECONDS", default=2.0)
ROUTING_BACKOFF_CAP_SECONDS = env.float("ROUTING_BACKOFF_CAP_SECONDS", default=900.0)
ROUTING_LEASE_SECONDS = env.int("ROUTING_LEASE_SECONDS", default=60)
ROUTING_BATCH_SIZE = env.int("ROUTING_BATCH_SIZE", default=100)
# Refuse to deliver to plain http:// endpoints in production unless explicitly allowed.
ROUTING_ALLOW_HTTP = env.bool("ROUTING_ALLOW_HTTP", default=not PRODUCTION)

# --- The hub's own identity -----------------------------------------------------------------------
HUB_COUNTRY_CODE = env("HUB_COUNTRY_CODE", default="DE")
HUB_PARTY_ID = env("HUB_PARTY_ID", default="HUB")
HUB_LEGAL_NAME = env("HUB_LEGAL_NAME", default="Open Roaming Clearing House GmbH")
HUB_VAT_ID = env("HUB_VAT_ID", default="DE000000000")
HUB_ADDRESS = env("HUB_ADDRESS", default="Musterstrasse 1, 10115 Berlin, Germany")
HUB_PUBLIC_URL = env("HUB_PUBLIC_URL", default="http://127.0.0.1:8000")

# --- Logging --------------------------------------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOG_FORMAT = env("LOG_FORMAT", default="json" if PRODUCTION else "text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "clearinghouse.logging.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "django.db.backends": {"level": "WARNING"},
    },
}

# --- Periodic jobs (installed into django-celery-beat's tables, editable in the admin) -------------
# Each app lists its own jobs in <app>/schedule.py (a plain dict, no imports of Django).
from clearinghouse.schedule import beat_schedule  # noqa: E402

CELERY_BEAT_SCHEDULE = beat_schedule(routing_sweep_seconds=env.float("ROUTING_SWEEP_SECONDS", default=5.0))

# --- credentials: credentials and authorization ----------------------------------------------------
# Key of the keyed hashes under which credential values are looked up (never stored in clear).
CREDENTIAL_PEPPER = env("CREDENTIAL_PEPPER", default="dev-only-credential-pepper")
DYNAMIC_QR_TTL_SECONDS = env.int("DYNAMIC_QR_TTL_SECONDS", default=60)
AUTHORIZATION_CSP_DEADLINE_SECONDS = env.float("AUTHORIZATION_CSP_DEADLINE_SECONDS", default=5.0)
AUTHORIZATION_VALIDITY_MINUTES = env.int("AUTHORIZATION_VALIDITY_MINUTES", default=15)
AUTHORIZATION_MAX_WAIT_SECONDS = env.int("AUTHORIZATION_MAX_WAIT_SECONDS", default=10)
# A routed question still undecided this long after its deadline (its worker died, or the broker was
# down) is answered by the periodic sweep with its whitelist fallback.
AUTHORIZATION_OVERDUE_GRACE_SECONDS = env.int("AUTHORIZATION_OVERDUE_GRACE_SECONDS", default=5)
# Names of this app's enums in the OpenAPI schema ("status" and "type" recur across apps).
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update(
    {
        "CredentialStatusEnum": "credentials.models.Credential.State",
        "CredentialTypeEnum": "credentials.models.CredentialType",
        "AuthorizationStatusEnum": "credentials.decision.Status",
    }
)
# Privacy (docs/privacy.md). The key of the pseudonyms that replace erased contract IDs: set it in
# production and never change it (a new key gives a contract a new pseudonym). Unset, it is derived
# from CREDENTIAL_PEPPER in production and from the secret key elsewhere.
PRIVACY_PSEUDONYM_KEY = env(
    "PRIVACY_PSEUDONYM_KEY",
    default="privacy-pseudonym-key:v1:" + (CREDENTIAL_PEPPER if PRODUCTION else SECRET_KEY),
)
# An erasure waits for the contract's open sessions to end, at most this long.
PRIVACY_ERASURE_MAX_WAIT_HOURS = env.int("PRIVACY_ERASURE_MAX_WAIT_HOURS", default=48)
# Retention periods per data class (0 keeps forever); the nightly job anonymises or deletes.
PRIVACY_AUTHORIZATION_RETENTION_DAYS = env.int("PRIVACY_AUTHORIZATION_RETENTION_DAYS", default=90)
PRIVACY_SESSION_RETENTION_DAYS = env.int("PRIVACY_SESSION_RETENTION_DAYS", default=180)
PRIVACY_DELIVERY_PAYLOAD_RETENTION_DAYS = env.int("PRIVACY_DELIVERY_PAYLOAD_RETENTION_DAYS", default=30)
PRIVACY_DEAD_LETTER_RETENTION_DAYS = env.int("PRIVACY_DEAD_LETTER_RETENTION_DAYS", default=90)
PRIVACY_AUDIT_LOG_RETENTION_DAYS = env.int("PRIVACY_AUDIT_LOG_RETENTION_DAYS", default=365)
PRIVACY_SDR_PERSONAL_RETENTION_DAYS = env.int("PRIVACY_SDR_PERSONAL_RETENTION_DAYS", default=365)
PRIVACY_ACCOUNTING_RETENTION_YEARS = env.int("PRIVACY_ACCOUNTING_RETENTION_YEARS", default=10)
# Rows per transaction of the retention job.
PRIVACY_RETENTION_BATCH_SIZE = env.int("PRIVACY_RETENTION_BATCH_SIZE", default=1000)
# Every log handler drops credential values, PINs, passwords, tokens and secrets from what it writes.
LOGGING["filters"]["redact_secrets"] = {"()": "credentials.privacy.logfilter.SecretRedactionFilter"}
for _handler in LOGGING["handlers"].values():
    _handler.setdefault("filters", []).append("redact_secrets")
# --- end credentials ---

# --- locations: EVSE data, live status, tariffs ----------------------------------------------------
# Report a status not refreshed within this many seconds as UNKNOWN to CSPs (0: off).
EVSE_STATUS_TTL_SECONDS = env.int("EVSE_STATUS_TTL_SECONDS", default=0)
EVSE_STATUS_PUSH_BATCH_SIZE = env.int("EVSE_STATUS_PUSH_BATCH_SIZE", default=1000)
# Status items per POST /evse-statuses/ request; a status time further ahead of the hub's clock
# than this is refused (it would shadow every real update until that time).
EVSE_STATUS_MAX_ITEMS = env.int("EVSE_STATUS_MAX_ITEMS", default=10000)
EVSE_STATUS_MAX_FUTURE_SECONDS = env.int("EVSE_STATUS_MAX_FUTURE_SECONDS", default=300)
# A change is pushed once it is this old, so that a transaction still writing lower change ids
# commits before the push cursor passes them.
EVSE_STATUS_PUSH_SETTLE_SECONDS = env.float("EVSE_STATUS_PUSH_SETTLE_SECONDS", default=3.0)
EVSE_STATUS_CHANGE_RETENTION_DAYS = env.int("EVSE_STATUS_CHANGE_RETENTION_DAYS", default=7)
# Status batches commit without waiting for the disk flush (PostgreSQL synchronous_commit off for
# those transactions only): a crash may lose the last fraction of a second of statuses, which the
# next update supersedes anyway.
EVSE_STATUS_ASYNC_COMMIT = env.bool("EVSE_STATUS_ASYNC_COMMIT", default=True)
# Locations per full load (PUT /locations/) and items per delta (PATCH /locations/).
LOCATIONS_MAX_ITEMS = env.int("LOCATIONS_MAX_ITEMS", default=10000)
# --- end locations ---

# --- sessions: remote commands, sessions, reservations ---------------------------------------------
COMMAND_DEFAULT_TIMEOUT_SECONDS = env.int("COMMAND_DEFAULT_TIMEOUT_SECONDS", default=60)
COMMAND_RESULT_GRACE_SECONDS = env.int("COMMAND_RESULT_GRACE_SECONDS", default=30)
SESSION_PROGRESS_MIN_INTERVAL_SECONDS = env.int("SESSION_PROGRESS_MIN_INTERVAL_SECONDS", default=300)
# A command that cannot reach its CSO fails fast: a remote start minutes late is worse than none.
COMMAND_DELIVERY_MAX_ATTEMPTS = env.int("COMMAND_DELIVERY_MAX_ATTEMPTS", default=3)
# The longest timeout a CSO may announce for a command's outcome.
COMMAND_MAX_TIMEOUT_SECONDS = env.int("COMMAND_MAX_TIMEOUT_SECONDS", default=600)
# The longest reservation RESERVE_NOW may ask for (at most 10080, a week: its authorization's limit).
RESERVATION_MAX_MINUTES = env.int("RESERVATION_MAX_MINUTES", default=1440)
# Names of the OpenAPI enums of commands and sessions (fields such as "status" and "type" recur).
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update(
    {
        "SessionStatusEnum": "sessions.inputs.SESSION_STATUSES",
        "CommandTypeEnum": "sessions.inputs.COMMAND_TYPES",
        "CommandStateEnum": "sessions.machine.CommandState",
        "CdrTokenTypeEnum": "sessions.inputs.TOKEN_TYPES",
        "CdrDimensionTypeEnum": "sessions.inputs.DIMENSION_TYPES",
    }
)
# --- end sessions ---

# --- settlement: SDRs, rating, settlement ------------------------------------------------------------
SDR_COST_TOLERANCE = env("SDR_COST_TOLERANCE", default="0.05")
SDR_TOTAL_TIME_TOLERANCE_SECONDS = env.int("SDR_TOTAL_TIME_TOLERANCE_SECONDS", default=120)
SDR_DISPUTE_WINDOW_DAYS = env.int("SDR_DISPUTE_WINDOW_DAYS", default=14)
SETTLEMENT_GRACE_DAYS = env.int("SETTLEMENT_GRACE_DAYS", default=2)
# An SDR whose energy exceeds what its connector's maximum power delivers in the session's duration
# by more than this fraction is rejected (meters and rounding are allowed a little).
SDR_ENERGY_CAPACITY_TOLERANCE = env("SDR_ENERGY_CAPACITY_TOLERANCE", default="0.02")
SDR_BULK_MAX_ITEMS = env.int("SDR_BULK_MAX_ITEMS", default=500)
# SDRs per message to a CSP: a batch of 500 goes out as a few messages, not 500.
SDR_DELIVERY_BATCH_SIZE = env.int("SDR_DELIVERY_BATCH_SIZE", default=100)
# A settlement run settles SDRs in windows of this many SDR ids, one transaction each (a killed run
# resumes at the window it was in); a RUNNING run whose heartbeat is older than the stale time is
# taken over by another worker.
SETTLEMENT_RUN_BATCH_SIZE = env.int("SETTLEMENT_RUN_BATCH_SIZE", default=5000)
SETTLEMENT_RUN_STALE_SECONDS = env.int("SETTLEMENT_RUN_STALE_SECONDS", default=600)
# Statement numbers: PREFIX-YEAR-NNNNNN from a gap-free counter per year.
SETTLEMENT_NUMBER_PREFIX = env("SETTLEMENT_NUMBER_PREFIX", default="CH")
# Days between a statement becoming final and its payment being due; the hub's account named in the
# payment instruction when a partner pays the hub (e.g. "IBAN DE00 0000 0000 0000 0000 00").
SETTLEMENT_PAYMENT_TERMS_DAYS = env.int("SETTLEMENT_PAYMENT_TERMS_DAYS", default=14)
SETTLEMENT_HUB_BANK_ACCOUNT = env("SETTLEMENT_HUB_BANK_ACCOUNT", default="")
# Statement reports show contract IDs masked ("…5678"); off, they show them in full.
SETTLEMENT_REPORTS_MASK_CONTRACT_IDS = env.bool("SETTLEMENT_REPORTS_MASK_CONTRACT_IDS", default=True)
# --- end settlement ---
