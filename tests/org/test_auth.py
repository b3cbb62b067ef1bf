"""Sign-in, lockout, password rules, idle timeout and the per-user language."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client, override_settings
from django.urls import reverse

from org.constants import Role
from org.services import staff_create

PASSWORD = "Branch-Pass-2026"


@pytest.fixture
def rm_user(org_world):
    user = org_world.rm
    user.set_password(PASSWORD)
    user.save()
    return user


def login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR="10.0.0.1")


def test_login_then_logout(rm_user):
    client = Client()
    response = login(client, "rm", PASSWORD)
    assert response.status_code == 302 and response.url == reverse("dashboards:home")  # the RM home is the start page
    assert client.get(reverse("customers:list")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("customers:list")).status_code == 302


def test_wrong_password_shows_an_error_and_no_session(rm_user):
    client = Client()
    response = login(client, "rm", "wrong-password")
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert client.get(reverse("customers:list")).status_code == 302


def test_axes_locks_the_account_after_repeated_failures(rm_user, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "rm", "wrong-password")
    # Even the right password is refused while locked out.
    response = login(client, "rm", PASSWORD)
    assert response.status_code == 429
    assert client.get(reverse("customers:list")).status_code == 302


def test_password_validators_reject_weak_passwords(org_world):
    with pytest.raises(ValidationError):
        validate_password("12345678")
    with pytest.raises(ValidationError):
        validate_password("password")
    validate_password("Branch-Pass-2026")


def test_staff_create_rejects_unknown_role(org_world):
    with pytest.raises(ValidationError) as exc:
        staff_create(username="x1", password=PASSWORD, role="janitor", branch=org_world.b1)
    assert "role" in exc.value.message_dict
    assert Role.RM in {r.value for r in Role}


def test_idle_session_expires(rm_user, settings, time_machine):
    assert settings.SESSION_COOKIE_AGE == settings.SESSION_IDLE_TIMEOUT_MINUTES * 60
    time_machine.move_to("2026-11-02 09:00:00+08:00", tick=False)
    client = Client()
    login(client, "rm", PASSWORD)
    time_machine.move_to("2026-11-02 09:29:00+08:00", tick=False)
    assert client.get(reverse("customers:list")).status_code == 200  # activity renews the session
    time_machine.move_to("2026-11-02 09:58:00+08:00", tick=False)
    assert client.get(reverse("customers:list")).status_code == 200
    time_machine.move_to("2026-11-02 10:29:00+08:00", tick=False)  # 31 minutes idle
    response = client.get(reverse("customers:list"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


@override_settings(LANGUAGE_CODE="zh-hans")
def test_language_switch_is_remembered_on_the_user(rm_user):
    client = Client()
    client.force_login(rm_user)
    response = client.post(reverse("language-set"), {"language": "en", "next": "/customers/"})
    assert response.status_code == 302 and response.url == "/customers/"
    rm_user.refresh_from_db()
    assert rm_user.language == "en"
    fresh = Client()  # a new browser: no cookie, the user's choice still applies
    fresh.force_login(rm_user)
    page = fresh.get(reverse("customers:list"))
    assert '<html lang="en">' in page.content.decode()


def test_language_switch_refuses_foreign_redirects(rm_user):
    client = Client()
    client.force_login(rm_user)
    response = client.post(reverse("language-set"), {"language": "en", "next": "https://evil.example/"})
    assert response.url == "/"


def test_audit_log_is_for_head_office_only(org_world):
    client = Client()
    client.force_login(org_world.rm)
    assert client.get(reverse("audit-log")).status_code == 403
    client.force_login(org_world.ho_user)
    assert client.get(reverse("audit-log")).status_code == 200
    assert client.get(reverse("audit-log") + "?tab=keys").status_code == 200


def test_unknown_api_url_answers_in_the_api_error_format(org_world):
    client = Client()
    client.force_login(org_world.rm)
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_unknown_page_renders_the_html_404(org_world):
    client = Client()
    client.force_login(org_world.rm)
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and b"404" in response.content
