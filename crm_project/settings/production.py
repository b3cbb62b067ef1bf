"""Production: base settings with DEBUG off, a real secret key, HTTPS-only and manifest-hashed static files.

Every security setting comes from the environment and is ON unless switched off (README, Production), so
`manage.py check --deploy` reports no issues with the documented environment.
"""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from .base import *
from .base import VAR_DIR, env

DEBUG = False

# --- Secret key: required, and never a placeholder from this repository or something short ---
SECRET_KEY = env("DJANGO_SECRET_KEY")
_PLACEHOLDER_KEYS = ("change-me", "changeme", "dev-only", "insecure", "placeholder", "secret-key")
if (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5
        or any(word in SECRET_KEY.lower() for word in _PLACEHOLDER_KEYS)):
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be a long random value (50 or more characters, not a placeholder such as "
        "'change-me-in-production'). Make one with: "
        "python -c \"import secrets; print(secrets.token_urlsafe(50))\"")

# --- HTTPS: redirect, HSTS, cookies only over TLS ---
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
# Behind a TLS-terminating proxy (nginx, a load balancer) the app sees plain HTTP; the proxy tells it the
# original scheme in a header. Trust it only when the proxy sets that header and strips it from clients.
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Static files: collected (hashed names, gzip/brotli) and served by whitenoise ---
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(VAR_DIR / "static")))
WHITENOISE_USE_FINDERS = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
