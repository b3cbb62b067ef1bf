import os

from celery import Celery

# The same default as crm_project/wsgi.py: a worker or beat started without DJANGO_SETTINGS_MODULE runs on the
# settings gunicorn does. (Importing crm_project.wsgi loads this module first, so this default is the one that
# counts for both; `make run` and the tests name their settings module explicitly.)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings.production")

app = Celery("crm_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
