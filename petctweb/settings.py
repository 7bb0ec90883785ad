"""The one settings module. Every value comes from the environment, with safe defaults.

With no variables set the product runs self-contained: SQLite in ./var and a Celery broker on the
file system (a real worker process, no server needed). Production sets DATABASE_URL (PostgreSQL),
CELERY_BROKER_URL (Redis), SECRET_KEY, ALLOWED_HOSTS and DEBUG=0.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PETCTWEB_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)


def _local_secret_key() -> str:
    """A random key kept in var/ for installs that set none: never a constant shipped in the code."""
    import secrets

    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = os.environ.get("SECRET_KEY") or _local_secret_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",  # per-user API tokens, stored hashed, with expiry and revocation
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "audit",
    "cases",
    "inference",
    "training",
    "studies",
    "portal",
    "frontend",
    "benchmarks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "petctweb.session_limits.SessionLimitsMiddleware",
    # last, as django-axes asks: it turns a locked-out login into its lockout response
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "petctweb.urls"
WSGI_APPLICATION = "petctweb.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        # Persistent connections (one per gunicorn thread), checked before reuse so a restarted database
        # costs one failed check, not a failed request.
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file-backed test database so a real worker process can see what the tests write.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": int(os.environ.get("PETCTWEB_PASSWORD_MIN_LENGTH", "12"))}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses a locked-out username+IP before any password is checked
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "case-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
PETCTWEB_STATIC_HASHED = env_bool("PETCTWEB_STATIC_HASHED", False)  # scripts/run.sh and deployments: 1
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": os.environ.get("FILE_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage")},
    # Served files: hashed, compressed copies made by collectstatic (cacheable forever) where the deployment
    # says so; otherwise the apps' files as they are (development, tests), found on each request.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage" if PETCTWEB_STATIC_HASHED
                    else "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = not PETCTWEB_STATIC_HASHED

# Uploads: the whole request body is capped; files stream to disk above 2.5 MB.
PETCTWEB_MAX_UPLOAD_BYTES = int(os.environ.get("PETCTWEB_MAX_UPLOAD_BYTES", str(2 * 1024**3)))
# Largest series or working grid accepted (voxels), checked from the headers before any pixel is decoded.
PETCTWEB_MAX_VOXELS = int(os.environ.get("PETCTWEB_MAX_VOXELS", str(2048 * 2048 * 512)))
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", str(64 * 1024**2)))
DATA_UPLOAD_MAX_NUMBER_FILES = int(os.environ.get("DATA_UPLOAD_MAX_NUMBER_FILES", "5000"))
FILE_UPLOAD_TEMP_DIR = None

# --- Security: TLS proxy, cookies, sessions, login lockout, CSP ------------------------------------
# Behind a TLS-terminating proxy (nginx, a load balancer) that sets X-Forwarded-Proto: HTTPS is then
# required (redirect, HSTS, secure cookies). Off by default so `scripts/run.sh` works on plain loopback.
PETCTWEB_BEHIND_TLS_PROXY = env_bool("PETCTWEB_BEHIND_TLS_PROXY", False)
if PETCTWEB_BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PETCTWEB_BEHIND_TLS_PROXY)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000" if PETCTWEB_BEHIND_TLS_PROXY else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# The header only allows preloading; the domain joins the browsers' list only if someone submits it.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", PETCTWEB_BEHIND_TLS_PROXY)
SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", PETCTWEB_BEHIND_TLS_PROXY)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Idle timeout: the session expires this long after the last request (refreshed at most once a minute
# by SessionLimitsMiddleware, so API calls do not each write the session). Absolute lifetime: a login
# ends this long after it began, however active.
PETCTWEB_SESSION_IDLE_SECONDS = int(float(os.environ.get("PETCTWEB_SESSION_IDLE_HOURS", "8")) * 3600)
PETCTWEB_SESSION_MAX_SECONDS = int(float(os.environ.get("PETCTWEB_SESSION_MAX_HOURS", "12")) * 3600)
SESSION_COOKIE_AGE = PETCTWEB_SESSION_IDLE_SECONDS

# django-axes: lock out a username from one IP address after repeated failed logins (login page,
# /admin/ and anything else that authenticates); the lock lifts after the cool-off.
AXES_FAILURE_LIMIT = int(os.environ.get("PETCTWEB_LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = float(os.environ.get("PETCTWEB_LOGIN_COOLOFF_MINUTES", "15")) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "frontend/locked_out.html"
AXES_VERBOSE = False

# Content-Security-Policy (django-csp): scripts only from this origin - no inline <script>, no on*=
# handlers, no eval. `json_script` blocks are data (type=application/json), which CSP does not run.
# Inline style *attributes* stay allowed (progress bars set their width); <style> is allowed too.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'", "data:"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication",
                                       "knox.auth.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "petctweb.api_errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["petctweb.throttles.AnonThrottle", "petctweb.throttles.UserThrottle"],
}
# Requests per period ("N/second|minute|hour|day"); None switches a throttle off (the test suite does).
PETCTWEB_THROTTLE_RATES = {
    "anon": os.environ.get("PETCTWEB_THROTTLE_ANON", "60/minute"),
    "user": os.environ.get("PETCTWEB_THROTTLE_USER", "1200/minute"),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "petctweb API",
    "VERSION": "0.1.0",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI served from this origin (no CDN) so the CSP needs no exception.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Schema-quality hints (view serializers) are not deployment problems; `manage.py spectacular
    # --validate` shows them. Keeping them out keeps `check --deploy` about security.
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
}

# --- Imaging -------------------------------------------------------------------------------
PETCTWEB_WORKING_SPACING_MM = float(os.environ.get("PETCTWEB_WORKING_SPACING_MM", "0.5"))
PETCTWEB_KEEP_ORIGINALS = env_bool("PETCTWEB_KEEP_ORIGINALS", False)
# Keyed hashing for UID remapping, date shifts and patient keys; keep it secret and stable.
PETCTWEB_DEID_SECRET = os.environ.get("PETCTWEB_DEID_SECRET", SECRET_KEY)
PETCTWEB_MARGIN_THRESHOLD_MM = float(os.environ.get("PETCTWEB_MARGIN_THRESHOLD_MM", "1.0"))
PETCTWEB_AUTO_INFERENCE = env_bool("PETCTWEB_AUTO_INFERENCE", True)
PETCTWEB_MODEL_ROOT = Path(os.environ.get("PETCTWEB_MODEL_ROOT", MEDIA_ROOT / "models"))
PETCTWEB_INFERENCE_DEVICE = os.environ.get("PETCTWEB_INFERENCE_DEVICE", "auto")

# Nothing stuck: running inferences beat every few seconds; each worker's watchdog re-enqueues runs whose
# beat is older than the stale limit (their worker was killed), on the file broker and on Redis alike.
PETCTWEB_RUN_HEARTBEAT_SECONDS = float(os.environ.get("PETCTWEB_RUN_HEARTBEAT_SECONDS", "10"))
PETCTWEB_RUN_STALE_SECONDS = float(os.environ.get("PETCTWEB_RUN_STALE_SECONDS", "60"))
PETCTWEB_WATCHDOG_SECONDS = float(os.environ.get("PETCTWEB_WATCHDOG_SECONDS", "30"))  # 0: no watchdog

# DICOM receiver (manage.py dicom_listener). No calling AE is allowed unless listed: the listener refuses
# to start with an empty list, except for development with PETCTWEB_DICOM_ALLOW_ANY=1.
PETCTWEB_DICOM_AE_TITLE = os.environ.get("PETCTWEB_DICOM_AE_TITLE", "PETCTWEB")
PETCTWEB_DICOM_HOST = os.environ.get("PETCTWEB_DICOM_HOST", "127.0.0.1")  # 0.0.0.0 to hear a scanner
PETCTWEB_DICOM_PORT = int(os.environ.get("PETCTWEB_DICOM_PORT", "11112"))
PETCTWEB_DICOM_ALLOWED_AES = [
    title.strip() for title in os.environ.get("PETCTWEB_DICOM_ALLOWED_AES", "").split(",") if title.strip()
]
PETCTWEB_DICOM_ALLOW_ANY = env_bool("PETCTWEB_DICOM_ALLOW_ANY", False)
PETCTWEB_DICOM_QUIET_SECONDS = float(os.environ.get("PETCTWEB_DICOM_QUIET_SECONDS", "5"))
PETCTWEB_DICOM_INCOMING_DIR = Path(os.environ.get("PETCTWEB_DICOM_INCOMING_DIR", VAR_DIR / "incoming"))
# Resumable chunked uploads: bytes land here (not in MEDIA_ROOT) until ingest; idle sessions expire.
PETCTWEB_UPLOAD_DIR = Path(os.environ.get("PETCTWEB_UPLOAD_DIR", VAR_DIR / "uploads")).resolve()
PETCTWEB_UPLOAD_SESSION_HOURS = float(os.environ.get("PETCTWEB_UPLOAD_SESSION_HOURS", "24"))
PETCTWEB_UPLOAD_CHUNK_BYTES = int(os.environ.get("PETCTWEB_UPLOAD_CHUNK_BYTES", str(8 * 1024**2)))  # browser

# --- Celery ----------------------------------------------------------------------------------
BROKER_DIR = Path(os.environ.get("PETCTWEB_BROKER_DIR", VAR_DIR / "broker"))  # tests: one per worker
# The host is unused by the file transport; naming one keeps kombu from warning on every connection.
# API tokens for scripts and gateways ("Authorization: Token <token>"); the same access policy applies.
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=int(os.environ.get("PETCTWEB_API_TOKEN_DAYS", "90"))),
    "TOKEN_LIMIT_PER_USER": 20,
    "AUTO_REFRESH": False,
}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://localhost/")
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # kombu's default is ./control, which litters whatever directory a process starts in
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # kombu polls the folder once a second by default: up to 1 s per hop (ingest, inference, PACS); a
        # listing every 50 ms costs an idle worker next to nothing and the scanner-to-result path ~25 ms a hop
        "polling_interval": float(os.environ.get("CELERY_FILESYSTEM_POLL_SECONDS", "0.05")),
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {"visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600"))}
)
# Status lives in our own tables; no result backend.
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# Queues by purpose: a long training job never holds up an intraoperative inference.
CELERY_TASK_ROUTES = {
    "inference.tasks.*": {"queue": "gpu"},
    "training.tasks.*": {"queue": "training"},
    "cases.tasks.*": {"queue": "default"},
}
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT", str(6 * 3600)))
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# --- Results to PACS (inference/pacs, docs/pacs.md) -------------------------------------------------


def _local_reid_key() -> str:
    """A random Fernet key kept in var/ for installs that set none (like SECRET_KEY); set it in production."""
    import base64
    import secrets

    path = VAR_DIR / "reid_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
        path.chmod(0o600)
    return path.read_text().strip()


# Keep the encrypted pseudonym -> original mapping so results land with the patient's study; 0 for research.
PETCTWEB_REIDENTIFY = env_bool("PETCTWEB_REIDENTIFY", True)
# Fernet keys, comma-separated: the first encrypts, all decrypt (key rotation).
PETCTWEB_REID_KEY = os.environ.get("PETCTWEB_REID_KEY") or (_local_reid_key() if PETCTWEB_REIDENTIFY else "")
PETCTWEB_SEND_RESULTS_AFTER_RUN = env_bool("PETCTWEB_SEND_RESULTS_AFTER_RUN", True)
PETCTWEB_PACS_AE_TITLE = os.environ.get("PETCTWEB_PACS_AE_TITLE", "PETCTWEB")  # our calling AE title
PETCTWEB_PACS_MAX_ATTEMPTS = int(os.environ.get("PETCTWEB_PACS_MAX_ATTEMPTS", "5"))
PETCTWEB_PACS_RETRY_BASE_S = float(os.environ.get("PETCTWEB_PACS_RETRY_BASE_S", "10"))  # 10, 20, 40, ... s
PETCTWEB_PACS_TIMEOUT_S = float(os.environ.get("PETCTWEB_PACS_TIMEOUT_S", "30"))
