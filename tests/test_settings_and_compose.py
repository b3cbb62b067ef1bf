"""docker-compose.yml and the settings modules: every command points at something that exists."""

import ast
import importlib
import importlib.util
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.utils.module_loading import import_string

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose():
    with COMPOSE.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


def command_words(service) -> list[str]:
    command = service.get("command")
    if command is None:
        return []
    words = [str(w) for w in command] if isinstance(command, list) else shlex.split(command)
    if words[:2] in (["sh", "-c"], ["bash", "-c"], ["/bin/sh", "-c"]):
        words = shlex.split(" ".join(words[2:]))
    return [w for w in words if w not in ("&&", ";", "||")]


def module_exists(dotted: str) -> bool:
    try:
        return importlib.util.find_spec(dotted) is not None
    except ModuleNotFoundError:
        return False


def defines(module: str, name: str) -> bool:
    """Whether ``module``'s source assigns or imports ``name`` at top level (without importing it)."""
    tree = ast.parse(Path(importlib.util.find_spec(module).origin).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return True
        if isinstance(node, ast.ImportFrom | ast.Import) and any((a.asname or a.name) == name for a in node.names):
            return True
    return False


# --- docker-compose.yml ---

def test_compose_has_the_five_services(services):
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)


def test_postgres_and_redis_images(services):
    assert services["postgres"]["image"].startswith("postgres")
    assert services["redis"]["image"].startswith("redis")


def test_web_runs_gunicorn_on_the_wsgi_module(services):
    words = command_words(services["web"])
    assert "gunicorn" in words
    target = words[words.index("gunicorn") + 1]
    module, _, attr = target.partition(":")
    assert module == "crm_project.wsgi"
    assert module_exists(module)
    assert defines(module, attr or "application")
    assert module_exists("gunicorn")


def test_web_migrates_before_serving(services):
    words = command_words(services["web"])
    text = " ".join(words)
    assert "manage.py migrate" in text
    assert text.index("migrate") < text.index("gunicorn")
    assert (ROOT / "manage.py").exists()


@pytest.mark.parametrize(("name", "sub"), [("worker", "worker"), ("beat", "beat")])
def test_celery_services(services, name, sub):
    words = command_words(services[name])
    assert words[:3] == ["celery", "-A", "crm_project"], words
    assert sub in words
    assert module_exists("crm_project.celery")
    assert defines("crm_project", "celery_app")
    if "--scheduler" in words or "-S" in words:
        flag = "--scheduler" if "--scheduler" in words else "-S"
        scheduler = words[words.index(flag) + 1]
        assert import_string(scheduler.replace(":", "."))
        assert scheduler.replace(":", ".") == settings.CELERY_BEAT_SCHEDULER.replace(":", ".")


@pytest.mark.parametrize("name", ["web", "worker", "beat"])
def test_app_services_environment(services, name):
    service = services[name]
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    settings_module = env["DJANGO_SETTINGS_MODULE"]
    assert module_exists(settings_module), settings_module
    assert "@postgres:" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://redis:")
    assert "DJANGO_SECRET_KEY" in env
    depends = service.get("depends_on", {})
    assert "postgres" in depends and "redis" in depends


def test_web_and_worker_share_the_media_volume(compose, services):
    """Uploads are saved by web and imported by the worker (and its rejected-rows files go the other way)."""
    mounts = {}
    for name in ("web", "worker"):
        env = services[name]["environment"]
        media = env["MEDIA_ROOT"]
        volumes = [v.split(":") for v in services[name].get("volumes", [])]
        [volume] = [source for source, target, *_ in volumes if target == media]
        mounts[name] = volume
    assert mounts["web"] == mounts["worker"] and mounts["web"] in compose["volumes"]
    # The image creates the directory for its user, so the named volume starts out writable by it.
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "var/media" in dockerfile and "chown -R crm /app/var" in dockerfile
    assert services["web"]["environment"]["MEDIA_ROOT"].startswith("/app/var/")


def test_media_root_is_configurable():
    out = subprocess.run([sys.executable, "-c", "import crm_project.settings.base as b; print(b.MEDIA_ROOT)"],
                         cwd=ROOT, env=dict(os.environ, MEDIA_ROOT="/srv/crm-media"), capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip().splitlines()[-1] == "/srv/crm-media"


def test_postgres_database_is_utf8(services):
    """pg_trgm and name search need a UTF-8 database (DESIGN.md, facts)."""
    env = services["postgres"].get("environment", {})
    assert "UTF8" in env.get("POSTGRES_INITDB_ARGS", "").replace("-", "").upper()


def test_compose_settings_module_starts(services):
    """The settings the containers use load and pass Django's system checks (in a fresh interpreter)."""
    env_block = services["web"]["environment"]
    env = {**os.environ, **{k: str(v) for k, v in env_block.items()}}
    env["DATABASE_URL"] = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm")
    env["DJANGO_SECRET_KEY"] = "x" * 60
    env.pop("REDIS_URL", None)  # no Redis needed for the checks
    result = subprocess.run([sys.executable, "manage.py", "check", "--fail-level", "ERROR"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_need_a_secret_key():
    dotenv = ROOT / ".env"
    if dotenv.exists() and "DJANGO_SECRET_KEY" in dotenv.read_text(encoding="utf-8"):
        pytest.skip("a local .env provides DJANGO_SECRET_KEY")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env["DJANGO_SETTINGS_MODULE"] = "crm_project.settings.production"
    env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm")
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


# --- settings ---

def test_tests_run_on_the_test_settings():
    assert os.environ["DJANGO_SETTINGS_MODULE"] == "crm_project.settings.test"
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def test_wsgi_defaults_to_production_settings():
    source = Path(importlib.util.find_spec("crm_project.wsgi").origin).read_text(encoding="utf-8")
    assert '"crm_project.settings.production"' in source


@pytest.mark.parametrize("setting", ["MIDDLEWARE", "AUTHENTICATION_BACKENDS"])
def test_dotted_paths_import(setting):
    for path in getattr(settings, setting):
        assert import_string(path)


def test_rest_framework_dotted_paths_import():
    rf = settings.REST_FRAMEWORK
    for key in ("DEFAULT_AUTHENTICATION_CLASSES", "DEFAULT_PERMISSION_CLASSES", "DEFAULT_RENDERER_CLASSES",
                "DEFAULT_FILTER_BACKENDS", "DEFAULT_THROTTLE_CLASSES"):
        for path in rf[key]:
            assert import_string(path), path
    for key in ("DEFAULT_PAGINATION_CLASS", "DEFAULT_SCHEMA_CLASS", "EXCEPTION_HANDLER"):
        assert import_string(rf[key])
    assert "org.api.authentication.ApiKeyAuthentication" in rf["DEFAULT_AUTHENTICATION_CLASSES"]


def test_installed_apps_import():
    for app in settings.INSTALLED_APPS:
        assert module_exists(app.rsplit(".apps.", 1)[0]), app


def test_locale_and_time():
    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert settings.USE_TZ is True
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert {code for code, _ in settings.LANGUAGES} == {"zh-hans", "en"}


def test_database_connection_reuse():
    db = settings.DATABASES["default"]
    assert db["CONN_MAX_AGE"] > 0 and db["CONN_HEALTH_CHECKS"] is True


def test_celery_is_safe_against_lost_workers():
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True


def test_celery_app_loads_django_settings():
    celery_module = importlib.import_module("crm_project.celery")
    assert celery_module.app.main == "crm_project"
    assert celery_module.app.conf.task_acks_late is True


def test_session_idle_timeout():
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    assert settings.SESSION_COOKIE_AGE == settings.SESSION_IDLE_TIMEOUT_MINUTES * 60
    assert settings.SESSION_COOKIE_HTTPONLY is True
