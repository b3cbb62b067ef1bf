"""Issue 9, item 12: `make run` serves the app as users get it.

DEBUG off unless asked; the app's own 404 and 500 pages in the user's language (the 500 page without the
request's context: it must show when the database is what failed); one line and no traceback in the
console for an ordinary 403/404, a traceback for a real 500; one log format with the time zone offset;
run.py collects the static files, prints the demo logins once and runs every process in the display zone.
The real processes are checked by scripts/smoke_run.py (CI).
"""

import io
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from django.utils import translation

ROOT = Path(__file__).resolve().parent.parent


def test_debug_is_off_unless_asked():
    code = "from crm_project.settings import base; print(base.DEBUG, base.WHITENOISE_USE_FINDERS)"

    def run(**extra):
        env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "postgres://x@127.0.0.1:1/x", **extra}
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                             check=True)
        return out.stdout.split()

    assert run() == ["False", "False"]
    assert run(DJANGO_DEBUG="true") == ["True", "True"]


@pytest.mark.parametrize(("language", "text"), [
    ("zh-hans", "页面不存在"), ("en", "This page does not exist, or you may not see it.")])
def test_404_is_the_apps_own_page_in_the_users_language(world, language, text):
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    world.rm.language = ""
    world.rm.save(update_fields=["language"])
    client.force_login(world.rm)
    for path in ("/no-such-page/", f"/customers/{world.customers['c_b2'].pk}/"):  # unknown; outside the RM's book
        response = client.get(path)
        assert response.status_code == 404
        html = response.content.decode()
        assert 'data-testid="error-page"' in html and text in html
        assert "URLconf" not in html


class _DeadUser:
    """A request whose user cannot be loaded (the database is down)."""

    def __getattr__(self, name):
        raise RuntimeError("database unavailable")


@pytest.mark.parametrize(("language", "text"), [
    ("zh-hans", "系统出现错误"), ("en", "Something went wrong on our side. The error has been logged.")])
def test_500_page_needs_no_request_context(db, language, text, django_assert_num_queries):
    from org.views import error_500

    request = RequestFactory().get("/customers/")
    request.user = _DeadUser()
    request.session = _DeadUser()
    with translation.override(language), django_assert_num_queries(0):
        response = error_500(request)
    assert response.status_code == 500
    html = response.content.decode()
    assert 'data-testid="error-page"' in html and text in html
    assert "/static/css/crm.css" in html


def test_a_server_error_shows_the_500_page(world, monkeypatch):
    from customers import views

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.selectors, "customer_360", broken)
    client = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(world.rm)
    response = client.get(f"/customers/{world.c_rm.pk}/")
    assert response.status_code == 500
    assert 'data-testid="error-page"' in response.content.decode()


# --- the console ---
@pytest.fixture
def console():
    """The configured console handler writing into a buffer (settings.LOGGING as Django applied it)."""
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "name", "") == "console")
    buffer = io.StringIO()
    old = handler.setStream(buffer)
    yield buffer
    handler.setStream(old)


def _request_log_lines(client, path, console):
    console.truncate(0)
    console.seek(0)
    client.get(path)
    return console.getvalue()


def test_ordinary_403_and_404_log_one_line_without_a_traceback(world, console, settings):
    client = Client()
    client.force_login(world.rm)
    out = _request_log_lines(client, "/audit/", console)  # PermissionDenied → 403
    assert "Forbidden (Permission denied): /audit/" in out and "Traceback" not in out
    assert len(out.strip().splitlines()) == 1, out
    out = _request_log_lines(client, f"/customers/{world.customers['c_b2'].pk}/", console)  # Http404
    assert "Not Found: /customers/" in out and "Traceback" not in out
    assert len(out.strip().splitlines()) == 1, out


def test_a_500_keeps_its_traceback_in_the_console(world, console, monkeypatch):
    from customers import views

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.selectors, "customer_360", broken)
    client = Client(raise_request_exception=False)
    client.force_login(world.rm)
    out = _request_log_lines(client, f"/customers/{world.c_rm.pk}/", console)
    assert "Internal Server Error" in out and "Traceback" in out and "RuntimeError: boom" in out


def test_log_lines_carry_the_time_with_its_offset(console):
    logging.getLogger("customers").warning("hello")
    line = console.getvalue().strip()
    assert re.fullmatch(r"\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4}\] \[\d+\] \[WARNING\] customers: hello", line), line
    assert settings.CELERY_WORKER_HIJACK_ROOT_LOGGER is False  # Celery logs through the same handler


# --- scripts/run.py ---
def test_run_script_collects_static_prints_logins_once_and_sets_one_time_zone():
    source = (ROOT / "scripts" / "run.py").read_text()
    assert '"collectstatic", "--noinput"' in source
    assert '"--no-logins"' in source
    assert 'env["TZ"] = env.get("DISPLAY_TIME_ZONE") or "Asia/Shanghai"' in source
    assert source.count("Demo logins") == 1


@pytest.mark.django_db(transaction=True)
def test_seed_demo_can_leave_the_logins_to_run_py():
    from django.core.management import call_command

    out = io.StringIO()
    call_command("seed_demo", customers=5, months=1, no_logins=True, no_vacuum=True, stdout=out)
    assert "Demo bank ready." in out.getvalue() and "Demo-Pass" not in out.getvalue() and "rm1" not in out.getvalue()


def test_readme_documents_port_and_debug():
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"\| `PORT`, `HOST` \| 8000, 127\.0\.0\.1 \|", readme)
    assert "PORT=8080 make run" in readme
    assert "DJANGO_DEBUG=true" in readme
