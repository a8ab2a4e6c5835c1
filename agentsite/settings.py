"""Settings of the agent registry, read from environment variables."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: with DEBUG off the registry does not start without one. "
            "Set SECRET_KEY to a long random value, e.g. the output of "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(50))', "
            "or DEBUG=true for development."
        )
    # For development only. It is public, and its prefix makes `check --deploy` flag it.
    SECRET_KEY = "django-insecure-dev-only-key-set-SECRET_KEY-in-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "registry",
]

MIDDLEWARE = [
    # First: the request id is set for everything below, and the metrics time all of it.
    "registry.ops.logging.RequestIdMiddleware",
    "registry.ops.metrics.MetricsMiddleware",
    # Above everything that can answer by itself (a Host not allowed, whitenoise's static
    # files), so that every response carries the security headers.
    "registry.ops.headers.SecurityHeadersMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before anything reads an agent's problems: those found under other rules are found again.
    "registry.ops.rules.CurrentRulesMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "agentsite.urls"

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
                "registry.context_processors.review_queue",
            ],
        },
    },
    # registry/jinja2/: the few templates that pages render on every request, where Django's
    # template language would be most of the page's time.
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "APP_DIRS": True,
        "OPTIONS": {
            "environment": "registry.templating.environment",
            "context_processors": ["django.contrib.auth.context_processors.auth"],
        },
    },
]

WSGI_APPLICATION = "agentsite.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
    "DATABASE_POOL", False
):
    # psycopg's connection pool (each gunicorn worker keeps its own).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": int(os.environ.get("DATABASE_POOL_MIN", 1)),
        "max_size": int(os.environ.get("DATABASE_POOL_MAX", 8)),
        "timeout": 10,
    }
else:
    # Persistent connections, checked before reuse, when CONN_MAX_AGE is set (make serve).
    DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("CONN_MAX_AGE", 0))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers work while one writer writes; IMMEDIATE takes the write lock
        # at BEGIN so concurrent writers wait instead of failing with "database is locked".
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL;"
            "PRAGMA synchronous=NORMAL;"
            "PRAGMA busy_timeout=20000;"
            "PRAGMA foreign_keys=ON;"
            # 32 MiB of page cache per connection (SQLite's default is 2 MiB): the agent rows
            # and the search index of a large registry stay in memory between requests.
            "PRAGMA cache_size=-32768;"
        ),
    }
    # A file, not memory, so the live server's threads share it; one per process, so that two
    # test runs in the same folder never share one.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f"test-db-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Behind HTTPS (production): secure cookies, HSTS, redirect plain HTTP. Off for local runs
# and tests, which speak plain HTTP.
HTTPS = env_bool("HTTPS", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", 31_536_000)) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
BEHIND_PROXY = env_bool("BEHIND_PROXY", False)
if BEHIND_PROXY:
    # The proxy in front says whether the client used HTTPS.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/agents/"
LOGOUT_REDIRECT_URL = "login"

# Sign-in throttling (django-axes): AXES_FAILURE_LIMIT failed sign-ins for one user name from one
# client address lock that pair out for the cool-off time, never for good; other users, and the
# same user elsewhere, can still sign in. A correct password before the limit resets the count.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out pair before the password
    "django.contrib.auth.backends.ModelBackend",
]
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", 5))
AXES_COOLOFF_TIME = timedelta(minutes=max(1, int(os.environ.get("AXES_COOLOFF_MINUTES", 15))))
AXES_RESET_ON_SUCCESS = True
# Trying again while locked out does not restart the cool-off, so "wait N minutes" holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "registry.ops.throttling.client_address"
AXES_LOCKOUT_CALLABLE = "registry.ops.throttling.lockout_response"

# The registry's own settings.
REGISTRY_REQUIRED_SECTIONS = env_list(
    "REGISTRY_REQUIRED_SECTIONS", "Focus Areas,Boundaries,Delegate To"
)
REGISTRY_MAX_FILE_BYTES = int(os.environ.get("REGISTRY_MAX_FILE_BYTES", 256 * 1024))
# An editor form carries a file twice (its fields, and the text they came from in base64), and
# URL-encoding can triple a byte: room for that. A larger body gets a 413 page, not a crash.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(2_621_440, 10 * REGISTRY_MAX_FILE_BYTES)
# The import page's whole upload (its .md files, or one .zip), checked before it is read; a zip
# may unpack to at most REGISTRY_MAX_UNPACKED_BYTES of agent files, in at most
# REGISTRY_MAX_ZIP_MEMBERS entries (a zip bomb is refused, not unpacked).
REGISTRY_MAX_UPLOAD_BYTES = int(os.environ.get("REGISTRY_MAX_UPLOAD_BYTES", 32 * 1024 * 1024))
REGISTRY_MAX_UNPACKED_BYTES = int(os.environ.get("REGISTRY_MAX_UNPACKED_BYTES", 64 * 1024 * 1024))
REGISTRY_MAX_ZIP_MEMBERS = int(os.environ.get("REGISTRY_MAX_ZIP_MEMBERS", 5000))
REGISTRY_NEW_AGENT_FOLDER = os.environ.get("REGISTRY_NEW_AGENT_FOLDER", "agents")
REGISTRY_APPROVALS_REQUIRED = int(os.environ.get("REGISTRY_APPROVALS_REQUIRED", 1))
# A change that grants high-risk powers (registry.agentfiles.risk) also needs an approval from
# a member of this group other than its author.
REGISTRY_HIGH_RISK_GROUP = os.environ.get("REGISTRY_HIGH_RISK_GROUP", "Maintainers").strip()
# A change with unresolved comments cannot be approved.
REGISTRY_REQUIRE_RESOLVED_COMMENTS = env_bool("REGISTRY_REQUIRE_RESOLVED_COMMENTS", True)
# "baseline": a change is refused only for the errors it introduces; "strict": for any error.
REGISTRY_ENFORCEMENT = os.environ.get("REGISTRY_ENFORCEMENT", "baseline").strip().lower()
if REGISTRY_ENFORCEMENT not in {"baseline", "strict"}:
    raise ImproperlyConfigured(
        f"REGISTRY_ENFORCEMENT must be 'baseline' or 'strict', not {REGISTRY_ENFORCEMENT!r}"
    )
# The tool an agent is written for when its folder does not say (.claude/agents/ is Claude
# Code's, .github/agents/ Copilot's, .opencode/agent(s)/ OpenCode's).
REGISTRY_DEFAULT_TARGET = os.environ.get("REGISTRY_DEFAULT_TARGET", "claude-code").strip().lower()
if REGISTRY_DEFAULT_TARGET not in {"claude-code", "copilot", "opencode"}:
    raise ImproperlyConfigured(
        "REGISTRY_DEFAULT_TARGET must be claude-code, copilot or opencode, not "
        f"{REGISTRY_DEFAULT_TARGET!r}"
    )
# The agent list's rendered results are cached for this long at most (0: not cached); any
# change to an agent or a change request makes a new cache key at once.
REGISTRY_LIST_CACHE_SECONDS = int(os.environ.get("REGISTRY_LIST_CACHE_SECONDS", 60))
# With REDIS_URL (e.g. redis://127.0.0.1:6379/0): one cache that every worker on every machine
# shares, its keys under CACHE_KEY_PREFIX, so that several registries (or test runs) can use one
# Redis. Without it: in each process's memory, at most 300 entries (a page of the list is about
# 40 KB). Either way a change is seen at once, since the key is read from the database.
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "registry").strip(),
            # A Redis that does not answer fails the page within 2 s instead of hanging it.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": 300},
        }
    }
# The git checkout that export and the drift check work on.
REGISTRY_REPOSITORY_DIR = os.environ.get("REGISTRY_REPOSITORY_DIR", "")

# Background work (pushes to the repository): queued in the database, run by
# `manage.py worker` processes, each task taken by exactly one of them.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# Where the registry keeps what is its own on disk: the clone of the team's repository.
REGISTRY_DATA_DIR = Path(os.environ.get("REGISTRY_DATA_DIR") or BASE_DIR / "data")
# The team's repository: any URL git accepts. Unset, nothing is pushed.
REGISTRY_GIT_REMOTE = os.environ.get("REGISTRY_GIT_REMOTE", "").strip()
REGISTRY_GIT_BRANCH = os.environ.get("REGISTRY_GIT_BRANCH", "main").strip() or "main"
# The folder of the repository the agents live in; agent paths are relative to it.
REGISTRY_GIT_SUBDIR = os.environ.get("REGISTRY_GIT_SUBDIR", "").strip().strip("/")
# "direct": each published change is a commit on the branch; "branch": on its own branch,
# registry/change-<id>, for the repository's own review to take in.
REGISTRY_GIT_PUSH = os.environ.get("REGISTRY_GIT_PUSH", "direct").strip().lower()
if REGISTRY_GIT_PUSH not in {"direct", "branch"}:
    raise ImproperlyConfigured(
        f"REGISTRY_GIT_PUSH must be 'direct' or 'branch', not {REGISTRY_GIT_PUSH!r}"
    )
# Credentials, from the environment only: an ssh private key file for ssh URLs, a token for
# https ones. Neither is stored, logged or shown.
REGISTRY_GIT_SSH_KEY = os.environ.get("REGISTRY_GIT_SSH_KEY", "")
REGISTRY_GIT_TOKEN = os.environ.get("REGISTRY_GIT_TOKEN", "")
REGISTRY_GIT_TOKEN_USER = os.environ.get("REGISTRY_GIT_TOKEN_USER", "x-access-token")
# Pages link each pushed commit and branch here, e.g. https://github.com/team/agents
REGISTRY_GIT_WEB_URL = os.environ.get("REGISTRY_GIT_WEB_URL", "").strip().rstrip("/")
# How often the repository is fetched for its own changes (a webhook fetches at once).
REGISTRY_GIT_FETCH_SECONDS = max(10, int(os.environ.get("REGISTRY_GIT_FETCH_SECONDS", 300)))
# The secret a webhook's delivery is signed with (GitHub, Gitea) or carries (GitLab).
REGISTRY_GIT_WEBHOOK_SECRET = os.environ.get("REGISTRY_GIT_WEBHOOK_SECRET", "")
# A push that could not reach the remote is tried again after 10 s, 20 s, 40 s ... at most this.
REGISTRY_GIT_RETRY_MAX_SECONDS = int(os.environ.get("REGISTRY_GIT_RETRY_MAX_SECONDS", 600))

# Logs go to stdout: plain lines, or one JSON object a line with LOG_FORMAT=json. Each record
# carries the id of the request it was written in (registry.ops.logging).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain").strip().lower()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "registry.ops.logging.RequestIdFilter"}},
    "formatters": {
        "registry": {"()": "registry.ops.logging.JsonFormatter"}
        if LOG_FORMAT == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "registry",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["stdout"], "level": os.environ.get("LOG_LEVEL", "INFO").upper()},
    "loggers": {
        # Django's default handlers (the console only with DEBUG, mail to admins) give way.
        "django": {"handlers": [], "propagate": True},
        "django.server": {"handlers": [], "propagate": True},
        # Its start-up banner would precede every command's output on stdout.
        "axes.apps": {"level": "WARNING"},
    },
}

# /metrics: signed-in maintainers may read it; so may a request with the bearer token
# METRICS_TOKEN when it is set, or else one from loopback unless a proxy stands in front.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_ALLOW_LOOPBACK = env_bool("METRICS_ALLOW_LOOPBACK", not env_bool("BEHIND_PROXY", False))
