"""docker-compose.yml and the settings modules: every command points at something that exists."""

import ast
import importlib
import importlib.util
import json
import os
import re
import secrets
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
    """The settings the containers use (compose's defaults, as compose interpolates them) load and pass Django's
    system checks, the deployment checks included, in a fresh interpreter."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SECURE_", "SESSION_COOKIE", "CSRF_COOKIE", "DJANGO_"))}
    env.update(compose_environment(services["web"], {"DJANGO_SECRET_KEY": secrets.token_urlsafe(50)}))
    env["DATABASE_URL"] = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm")
    env.pop("REDIS_URL", None)  # no Redis needed for the checks
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout + result.stderr


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


# --- issue 9, item 2: the production configuration starts ---

_COMPOSE_VARIABLE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value: str, environ: dict) -> str:
    """docker compose's variable interpolation (the forms this file uses): ${X}, ${X:-default}, ${X-default},
    ${X:?error}, ${X?error}. An unset (or, with ':', empty) required variable raises, as compose refuses to start."""
    def replace(match):
        name, op, arg = match["name"], match["op"], match["arg"]
        present = name in environ and (environ[name] != "" or not (op or "").startswith(":"))
        if present:
            return environ[name]
        if op in (":?", "?"):
            raise ValueError(f"required variable {name} is missing a value: {arg}")
        return arg if op in (":-", "-") else ""
    return _COMPOSE_VARIABLE.sub(replace, value)


def compose_environment(service, environ: dict) -> dict:
    block = service.get("environment", {})
    if isinstance(block, list):
        block = dict(item.split("=", 1) for item in block)
    return {key: interpolate(str(value), environ) for key, value in block.items()}


def test_compose_uses_only_known_interpolation_forms():
    text = COMPOSE.read_text(encoding="utf-8")
    for found in re.findall(r"\$\{[^}]*\}", text):
        assert _COMPOSE_VARIABLE.fullmatch(found), found
    assert "$$" not in text


@pytest.mark.parametrize("name", ["web", "worker", "beat"])
def test_compose_refuses_to_start_without_a_secret_key(services, name):
    """No placeholder default: compose stops with a message when DJANGO_SECRET_KEY is unset or empty."""
    for environ in ({}, {"DJANGO_SECRET_KEY": ""}):
        with pytest.raises(ValueError, match="DJANGO_SECRET_KEY"):
            compose_environment(services[name], environ)
    key = secrets.token_urlsafe(50)
    assert compose_environment(services[name], {"DJANGO_SECRET_KEY": key})["DJANGO_SECRET_KEY"] == key


@pytest.mark.parametrize("name", ["web", "worker", "beat"])
def test_compose_is_secure_by_default(services, name):
    env = compose_environment(services[name], {"DJANGO_SECRET_KEY": secrets.token_urlsafe(50)})
    for variable in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
                     "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD"):
        assert env.get(variable, "true") == "true", variable
    assert int(env.get("SECURE_HSTS_SECONDS", "31536000")) > 0


def production_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SECURE_", "SESSION_COOKIE", "CSRF_COOKIE", "DJANGO_"))}
    env.update(DJANGO_SETTINGS_MODULE="crm_project.settings.production", DJANGO_SECRET_KEY=secrets.token_urlsafe(50))
    env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm")
    env.update(extra)
    return env


def run_python(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.mark.parametrize("key", [
    "change-me-in-production",           # the old docker-compose default
    "dev-only-insecure-key-change-me",   # base.py's development key
    "django-insecure-" + "a1b2c3d4e5" * 5,
    "short-but-random-Qx81",
    "x" * 60,
])
def test_production_settings_refuse_placeholder_and_weak_keys(key):
    result = run_python("import django; django.setup()", production_env(DJANGO_SECRET_KEY=key))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "DJANGO_SECRET_KEY must be a long random value" in result.stderr


def documented_production_environment() -> dict:
    """The environment README's Production section documents (its ```dotenv block)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    production = readme[readme.index("## Production"):]
    block = re.search(r"```dotenv\n(.*?)```", production, re.DOTALL)
    assert block, "README's Production section documents the environment in a ```dotenv block"
    pairs = {}
    for line in block[1].splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def test_check_deploy_with_the_documented_environment_has_no_issues():
    documented = documented_production_environment()
    for variable in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "SECURE_PROXY_SSL_HEADER",
                     "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"):
        assert variable in documented, variable
    env = production_env(**documented)
    env["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)  # the README shows how to make one, not a value
    env["DATABASE_URL"] = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm")
    env.pop("REDIS_URL", None)
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output, output


def test_production_security_settings_are_on_by_default_and_come_from_the_environment():
    code = ("import django; django.setup(); from django.conf import settings as s; "
            "print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
            "s.SECURE_HSTS_PRELOAD, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER)")
    defaults = run_python(code, production_env())
    assert defaults.returncode == 0, defaults.stderr
    assert defaults.stdout.split()[-8:] == ["False", "True", "31536000", "True", "True", "True", "True", "None"]
    switched = run_python(code, production_env(
        SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="0", SECURE_HSTS_INCLUDE_SUBDOMAINS="false",
        SECURE_HSTS_PRELOAD="false", SESSION_COOKIE_SECURE="false", CSRF_COOKIE_SECURE="false",
        SECURE_PROXY_SSL_HEADER="true"))
    assert switched.returncode == 0, switched.stderr
    assert switched.stdout.strip().endswith("False False 0 False False False False ('HTTP_X_FORWARDED_PROTO', 'https')")


def test_collectstatic_with_the_production_settings(tmp_path):
    """Manifest + compression post-processing of every static file (vendored ones included) succeeds."""
    env = production_env(STATIC_ROOT=str(tmp_path))
    env.pop("REDIS_URL", None)
    result = subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    manifest = json.loads((tmp_path / "staticfiles.json").read_text(encoding="utf-8"))["paths"]
    hashed = manifest["vendor/bootstrap-5.3.9.min.css"]
    assert hashed != "vendor/bootstrap-5.3.9.min.css" and (tmp_path / hashed).exists()
    assert (tmp_path / (hashed + ".gz")).exists()


def test_vendored_files_reference_no_missing_source_map():
    """The vendored minified files ship without their .map files, so they carry no sourceMappingURL."""
    for path in (ROOT / "static" / "vendor").iterdir():
        for name in re.findall(r"sourceMappingURL=(\S+?)(?:\s|\*/|$)", path.read_text(encoding="utf-8")):
            assert (path.parent / name).exists(), f"{path.name} points at a missing {name}"


@pytest.mark.parametrize("module", ["crm_project.wsgi", "crm_project.celery"])
def test_web_and_celery_default_to_the_same_settings_module(module):
    """gunicorn crm_project.wsgi and celery -A crm_project, started without DJANGO_SETTINGS_MODULE, run on the
    production settings (importing the package loads celery.py first, so its default is the one that counts)."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)
    env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm")
    result = run_python(f"import os, {module}; print(os.environ['DJANGO_SETTINGS_MODULE'])", env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "crm_project.settings.production"
