"""Settings shared by every environment; every value comes from the environment (django-environ)."""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Off unless asked for (DJANGO_DEBUG=true): `make run` serves the app as users get it (its own error pages,
# no debug toolbar of tracebacks in the browser).
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-key-change-me")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_htmx",
    "csp",
    "axes",
    "rules.apps.AutodiscoverRulesConfig",
    "core",
    "org",
    "customers",
    "segmentation",
    "complaints",
    "campaigns",
    "dashboards",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below WhiteNoise, so static files keep their own caching headers.
    "core.middleware.NoStoreMiddleware",
    "core.middleware.RejectNulMiddleware",  # before anything looks a value up in the database
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "org.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    "org.middleware.ApiKeyUseMiddleware",
]

ROOT_URLCONF = "crm_project.urls"
WSGI_APPLICATION = "crm_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: DATABASE_URL, or an embedded PostgreSQL (pgserver) under var/ ---
if env("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
else:
    from crm_project.embedded_db import database_url

    DATABASES = {"default": env.db_url_config(database_url(VAR_DIR / "pgdata"))}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "org.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboards:home"
LOGOUT_REDIRECT_URL = "login"

# Idle timeout: the session ends after this many minutes without a request
# (Django's own sliding expiry: the cookie age is renewed on every request).
SESSION_IDLE_TIMEOUT_MINUTES = env.int("SESSION_IDLE_TIMEOUT_MINUTES", default=30)
SESSION_COOKIE_AGE = SESSION_IDLE_TIMEOUT_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# django-axes: lock an account/IP pair after repeated failures.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# --- Languages and time ---
LANGUAGE_CODE = env("LANGUAGE_CODE", default="zh-hans")
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["crm_project.formats"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = env("DISPLAY_TIME_ZONE", default="Asia/Shanghai")

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Uploaded import files and their rejected-rows files: web writes them, the Celery worker reads and writes them,
# so in a deployment of separate containers this must be storage they share (docker-compose.yml: a volume).
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# With DEBUG on, static files are served from the source folders; `make run` (DEBUG off) runs collectstatic.
WHITENOISE_USE_FINDERS = DEBUG

# --- REST API ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # The key first: its challenge makes an unauthenticated call a 401 with WWW-Authenticate.
        "org.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["org.api.permissions.IsStaffUserOrApiKey"],
    "DEFAULT_PARSER_CLASSES": [
        "core.renderers.ORJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "core.renderers.ORJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "core.filters.FilterBackend",
        "core.filters.StableOrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.CappedPageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "core.schema.CrmAutoSchema",
    "EXCEPTION_HANDLER": "core.api_errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "org.api.throttling.StaffRateThrottle",
        "org.api.throttling.ApiKeyRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env("API_THROTTLE_USER", default="600/min"),
        "api_key": env("API_THROTTLE_KEY", default="6000/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# The empty choice of every filter's select reads "All" (全部), not "---------".
FILTERS_EMPTY_CHOICE_LABEL = _("All")
SPECTACULAR_SETTINGS = {
    "TITLE": "Bank-branch CRM API",
    "DESCRIPTION": "Customer profiles, interactions and follow-up tasks. "
    "Authenticate with a browser session or `Authorization: Api-Key <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No badge from swagger.io's online validator: it would send the schema's address to a foreign origin
    # (and the CSP refuses the image anyway).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "TaskStatusEnum": "customers.constants.TaskStatus",
        "HoldingStatusEnum": "customers.constants.HoldingStatus",
        "RunStatusEnum": "segmentation.constants.RunStatus",
        "PolicyStatusEnum": "segmentation.constants.PolicyStatus",
        "ChannelEnum": "customers.constants.Channel",  # interactions and the segmentation policy's channels
        "ComplaintChannelEnum": "complaints.constants.Channel",
        "ClockModeEnum": "complaints.constants.ClockMode",
        "ComplaintStatusEnum": "complaints.constants.Status",
        "ComplaintPriorityEnum": "complaints.constants.Priority",
        "ComplaintActionEnum": "complaints.constants.Action",
        "InteractionOutcomeEnum": "customers.constants.InteractionOutcome",
        "CampaignOutcomeEnum": "campaigns.constants.Outcome",
        "LifecycleStageEnum": "customers.constants.LifecycleStage",
        "ValueTierEnum": "segmentation.constants.ValueTier",
        "CardTierEnum": "segmentation.constants.CardTier",
        "CalendarKindEnum": "org.constants.CalendarKind",
        "KindEnum": "customers.constants.CustomerKind",  # the name it had before the calendar's kind
    },
}
API_KEY_CUSTOM_HEADER = "HTTP_AUTHORIZATION"
# PUT/PATCH/tag changes of a customer without If-Match: allowed (False, the default) or refused with 428 (True).
API_REQUIRE_IF_MATCH = env.bool("API_REQUIRE_IF_MATCH", default=False)
# The schema (/api/schema/) and docs (/api/docs/) need a signed-in user or an API key unless this is set.
CRM_API_DOCS_PUBLIC = env.bool("CRM_API_DOCS_PUBLIC", default=False)

# --- Content-Security-Policy (django-csp): this origin only; no inline script or style, no eval ---
# Inline scripts and event handlers live in static/js; htmx's inline indicator style is switched off
# (base.html's htmx-config); Bootstrap's icons are data: SVG images; the API docs use drf-spectacular's
# split Swagger UI view (its init script is a file, not inline).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Cache (throttling, axes) ---
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery: Redis when REDIS_URL is set, else kombu's filesystem transport (no server needed) ---
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
else:
    _queue_dir = VAR_DIR / "celery"
    for _sub in ("out", "processed", "control"):
        (_queue_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "out"),
        "data_folder_out": str(_queue_dir / "out"),
        "data_folder_processed": str(_queue_dir / "processed"),
        "control_folder": str(_queue_dir / "control"),
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# --- Domain settings (documented in README) ---
CRM_LIST_COUNT_CAP = env.int("CRM_LIST_COUNT_CAP", default=10000)
IDEMPOTENCY_TTL_HOURS = env.int("IDEMPOTENCY_TTL_HOURS", default=24)
# Full sensitive values one user (or API key) may reveal per window ("30/h", "100/d": core.ratelimit.Rate).
CRM_REVEAL_RATE = env("CRM_REVEAL_RATE", default="30/h")
# File imports (head office): upload size limit, rows per batch. Previews and imports always run in a worker.
CRM_IMPORT_MAX_UPLOAD_MB = env.int("CRM_IMPORT_MAX_UPLOAD_MB", default=300)
# What a file may hold, checked while reading it (customers.ingest.limits.Limits).
CRM_IMPORT_MAX_ROWS = env.int("CRM_IMPORT_MAX_ROWS", default=2_000_000)
CRM_IMPORT_MAX_COLUMNS = env.int("CRM_IMPORT_MAX_COLUMNS", default=200)
CRM_IMPORT_MAX_LINE_KB = env.int("CRM_IMPORT_MAX_LINE_KB", default=64)
CRM_IMPORT_MAX_XLSX_CELLS = env.int("CRM_IMPORT_MAX_XLSX_CELLS", default=10_000_000)
CRM_IMPORT_MAX_UNZIPPED_MB = env.int("CRM_IMPORT_MAX_UNZIPPED_MB", default=1024)
# A running import job without a heartbeat for this long is marked failed (customers.tasks.import_jobs_sweep).
CRM_IMPORT_HEARTBEAT_TIMEOUT_MINUTES = env.int("CRM_IMPORT_HEARTBEAT_TIMEOUT_MINUTES", default=10)
# Customer-list exports per user (core.ratelimit notation: 10/h, 30/d, 5/10min).
CRM_EXPORT_RATE = env("CRM_EXPORT_RATE", default="10/h")
CRM_IMPORT_CHUNK_SIZE = env.int("CRM_IMPORT_CHUNK_SIZE", default=20000)
CRM_IMPORT_QUEUE = env("CRM_IMPORT_QUEUE", default=None)
# Uploaded import files and rejected-rows files hold customers' personal data (ID numbers, mobiles, addresses):
# deleted this many days after their job finished (nightly, customers.tasks.import_files_purge).
CRM_IMPORT_FILE_RETENTION_DAYS = env.int("CRM_IMPORT_FILE_RETENTION_DAYS", default=30)
BULK_MAX_RECORDS = 5000
# Segmentation (segmentation app): publishing a policy needs a second head-office user's approval (four eyes);
# a supervisor's tier override lasts at most this many days; a run is split into chunks of this many customers
# (processed by the workers at once); a running run without a heartbeat for this long is marked failed.
SEGMENTATION_FOUR_EYES = env.bool("SEGMENTATION_FOUR_EYES", default=True)
SEGMENTATION_OVERRIDE_MAX_DAYS = env.int("SEGMENTATION_OVERRIDE_MAX_DAYS", default=366)
SEGMENTATION_CHUNK_SIZE = env.int("SEGMENTATION_CHUNK_SIZE", default=100_000)
SEGMENTATION_HEARTBEAT_TIMEOUT_MINUTES = env.int("SEGMENTATION_HEARTBEAT_TIMEOUT_MINUTES", default=10)
SEGMENTATION_QUEUE = env("SEGMENTATION_QUEUE", default=None)
# Complaints: the regulator's deadline whose last day is not a working day moves to the next working day (the Civil
# Code's count, Art. 203; on by default).
COMPLAINTS_REGULATORY_ROLL_FORWARD = env.bool("COMPLAINTS_REGULATORY_ROLL_FORWARD", default=True)
# Care and campaigns (campaigns app): the RM's birthday reminder this many days ahead; lunar birthdays: a leap-month
# birth greeted in the regular month of that number in a year without that leap month, day 30 on day 29 of a short
# month; Feb 29 births on Feb 28 of a common year; no marketing message in quiet hours (local time, a span may cross
# midnight); at most CARE_CAP marketing messages per customer in CARE_CAP_DAYS days (an over-cap message waits for
# the next open window); the message backend ("file": JSON lines under var/messages, "console"); a message left
# "sending" this long after its attempt is marked unknown (to reconcile, never re-sent blindly).
CARE_BIRTHDAY_DAYS_AHEAD = env.int("CARE_BIRTHDAY_DAYS_AHEAD", default=3)
CARE_LUNAR_LEAP_TO_REGULAR = env.bool("CARE_LUNAR_LEAP_TO_REGULAR", default=True)
CARE_LUNAR_DAY30_TO_29 = env.bool("CARE_LUNAR_DAY30_TO_29", default=True)
CARE_FEB29_ON_FEB28 = env.bool("CARE_FEB29_ON_FEB28", default=True)
CARE_QUIET_START = env("CARE_QUIET_START", default="21:00")
CARE_QUIET_END = env("CARE_QUIET_END", default="08:00")
CARE_CAP = env.int("CARE_CAP", default=4)
CARE_CAP_DAYS = env.int("CARE_CAP_DAYS", default=30)
CARE_MESSAGE_BACKEND = env("CARE_MESSAGE_BACKEND", default="file")
CARE_MESSAGE_DIR = env("CARE_MESSAGE_DIR", default=str(VAR_DIR / "messages"))
CARE_UNKNOWN_AFTER_MINUTES = env.int("CARE_UNKNOWN_AFTER_MINUTES", default=10)
# Event-triggered care (campaigns.events, the nightly care_events job): the RM is told of a deposit or wealth holding
# maturing within CARE_MATURITY_DAYS days (of at least CARE_MATURITY_MIN_BALANCE yuan); a customer without a
# transaction for CARE_DORMANT_DAYS days or more gets a win-back call, for at most CARE_DORMANT_CATCH_UP_DAYS days
# after turning dormant (missed nights are caught up; long-dormant customers are the exit review's); the RM's
# satisfaction call after a resolved complaint (complaints app) is due CARE_SATISFACTION_CALL_DAYS after the decision.
CARE_MATURITY_DAYS = env.int("CARE_MATURITY_DAYS", default=14)
CARE_MATURITY_MIN_BALANCE = env.int("CARE_MATURITY_MIN_BALANCE", default=0)
CARE_DORMANT_DAYS = env.int("CARE_DORMANT_DAYS", default=180)
CARE_DORMANT_CATCH_UP_DAYS = env.int("CARE_DORMANT_CATCH_UP_DAYS", default=30)
CARE_SATISFACTION_CALL_DAYS = env.int("CARE_SATISFACTION_CALL_DAYS", default=1)
# Mail (the outbox's handlers send it, e.g. "your import finished"): console by default, e.g.
# smtp+tls://user:password@smtp.example.com:587 in production. Links in mails start with CRM_SITE_URL.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="crm@localhost")
CRM_SITE_URL = env("CRM_SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Outbox (core.outbox): attempts before a message is given up; days a delivered message is kept.
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=10)
OUTBOX_KEEP_DAYS = env.int("OUTBOX_KEEP_DAYS", default=7)
# A 5,000-record batch is a few MB of JSON; larger bodies are refused with 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=32 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# One console format for web, worker and beat, with the time and its UTC offset. The processes run in the
# display time zone (Django sets TZ to TIME_ZONE; scripts/run.py sets it for gunicorn and Celery before they
# start), so every line of `make run` is in Asia/Shanghai time by default: "2026-11-22 10:30:00 +0800".
LOG_DATE_FORMAT = "%Y-%m-%d %H:%M:%S %z"  # the same as gunicorn's error log
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"quiet_client_errors": {"()": "core.log.QuietClientErrors"}},
    "formatters": {"console": {"format": "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
                               "datefmt": LOG_DATE_FORMAT}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "console",
                             "filters": ["quiet_client_errors"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Replaces Django's default "django" logger set-up (a second console handler while DEBUG is on, which
        # printed each request warning twice); its records go to the root console above.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "INFO"},
    },
}
# Celery logs through the same root handler instead of installing its own (other format, local time).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
