from .base import *
from .base import env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
REST_FRAMEWORK = {**REST_FRAMEWORK}
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"user": "100000/min", "api_key": "100000/min"}
# Tests serve static files from the source folders (no collectstatic before a run; production and `make run` do).
WHITENOISE_USE_FINDERS = True
# Mail stays in memory (django.core.mail.outbox), also in a worker process started by the tests.
vars().update(env.email_url("EMAIL_URL", default="memorymail://"))
