"""Head office manages API keys and staff in the admin, through org.services with audit events (issue 9, item 7)."""

import re

import pytest
from django.contrib import messages
from django.urls import NoReverseMatch, reverse
from rest_framework.test import APIClient

from core.models import AuditEvent
from org.constants import AuditAction, Role, Scope
from org.models import ApiKey, User
from tests.org.builders import PASSWORD

pytestmark = pytest.mark.django_db


def _staff(user):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def hq(client, world):
    client.force_login(_staff(world.ho_user))
    return client


def _key_form(**values):
    data = {"name": "core-banking", "branch": "", "expiry_date_0": "", "expiry_date_1": ""}
    data.update(values)
    return data


def _messages(resp):
    return [str(m) for m in resp.context["messages"]]


# --- API keys ---

def test_hq_creates_an_api_key_shown_once(hq, world):
    resp = hq.post(reverse("admin:org_apikey_add"), _key_form(
        scopes=[Scope.CUSTOMERS_READ, Scope.SNAPSHOTS_READ], branch=world.b2.pk), follow=True)
    assert resp.status_code == 200
    api_key = ApiKey.objects.get(name="core-banking")
    [shown] = [str(m) for m in resp.context["messages"] if m.level == messages.WARNING]
    key = re.search(rf"{re.escape(api_key.prefix)}\.[A-Za-z0-9]+", shown)[0]
    assert ApiKey.objects.get_from_key(key).pk == api_key.pk
    assert (api_key.scopes, api_key.branch) == ([Scope.CUSTOMERS_READ, Scope.SNAPSHOTS_READ], world.b2)
    # The key is never shown again, nor stored in the audit.
    page = hq.get(reverse("admin:org_apikey_change", args=[api_key.pk])).content.decode()
    assert key not in page and api_key.prefix in page
    event = AuditEvent.objects.get(type=AuditAction.API_KEY_CREATED)
    assert event.user == world.ho_user and event.object_id == str(api_key.pk)
    assert key not in str(event.changes) and event.changes["scopes"] == [None, ["customers:read", "snapshots:read"]]
    # It works: a key limited to B2 sees B2's customer.
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    resp = api.get("/api/v1/customers/")
    assert resp.status_code == 200 and [c["cif"] for c in resp.json()["results"]] == [world.customers["c_b2"].cif]


def test_api_key_scopes_are_choices(hq):
    page = hq.get(reverse("admin:org_apikey_add")).content.decode()
    for scope in Scope.values:
        assert f'type="checkbox" name="scopes" value="{scope}"' in page
    resp = hq.post(reverse("admin:org_apikey_add"), _key_form(scopes=["customers:delete"]))
    assert resp.status_code == 200 and resp.context["adminform"].form.errors["scopes"]
    assert not ApiKey.objects.exists()


def test_hq_changes_an_api_keys_scopes_and_branch(hq, world):
    api_key = ApiKey.objects.create_key(name="k", scopes=[Scope.CUSTOMERS_READ])[0]
    resp = hq.post(reverse("admin:org_apikey_change", args=[api_key.pk]), _key_form(
        name="k2", scopes=[Scope.CUSTOMERS_READ, Scope.CUSTOMERS_WRITE], branch=world.b1.pk))
    assert resp.status_code == 302, resp.content.decode()[:3000]
    api_key.refresh_from_db()
    assert (api_key.name, api_key.scopes, api_key.branch) == ("k2", ["customers:read", "customers:write"], world.b1)
    event = AuditEvent.objects.get(type=AuditAction.API_KEY_CHANGED)
    assert event.changes == {"name": ["k", "k2"], "scopes": [["customers:read"], ["customers:read", "customers:write"]],
                             "branch": [None, "B1"]}


def test_hq_revokes_api_keys(hq, world):
    api_key, key = ApiKey.objects.create_key(name="k", scopes=[Scope.CUSTOMERS_READ])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert api.get("/api/v1/customers/").status_code == 200
    resp = hq.post(reverse("admin:org_apikey_changelist"),
                   {"action": "revoke", "_selected_action": [api_key.pk]}, follow=True)
    assert resp.status_code == 200 and "1" in " ".join(_messages(resp))
    api_key.refresh_from_db()
    assert api_key.revoked
    assert api.get("/api/v1/customers/").status_code == 401
    assert AuditEvent.objects.filter(type=AuditAction.API_KEY_REVOKED, object_id=str(api_key.pk),
                                     user=world.ho_user).count() == 1
    # A revoked key stays revoked and unchanged: its form is read-only.
    hq.post(reverse("admin:org_apikey_change", args=[api_key.pk]), _key_form(name="again", scopes=[Scope.PII_READ]))
    api_key.refresh_from_db()
    assert (api_key.name, api_key.scopes, api_key.revoked) == ("k", ["customers:read"], True)


def test_api_keys_are_not_deleted_in_the_admin(hq):
    """Deleting a key would delete its use log (cascade): keys are revoked instead."""
    api_key = ApiKey.objects.create_key(name="k", scopes=[])[0]
    assert hq.post(reverse("admin:org_apikey_delete", args=[api_key.pk]), {"post": "yes"}).status_code == 403
    assert ApiKey.objects.filter(pk=api_key.pk).exists()


def test_the_librarys_unused_api_key_model_is_not_offered():
    with pytest.raises(NoReverseMatch):
        reverse("admin:rest_framework_api_key_apikey_changelist")


# --- Staff ---

def test_hq_lists_staff_with_their_roles_and_branches(hq, world):
    page = hq.get(reverse("admin:org_user_changelist")).content.decode()
    for user in (world.rm, world.sup_b1, world.rm_b2):
        assert user.username in page
    assert str(Role.SUPERVISOR.label) in page and world.b2.name in page


def test_hq_creates_a_member_of_staff(hq, world):
    resp = hq.post(reverse("admin:org_user_add"), {
        "username": "rm_new", "password1": "Quiet-Harbour-2031", "password2": "Quiet-Harbour-2031",
        "last_name": "周", "first_name": "敏", "email": "", "role": Role.RM, "branch": world.b1.pk})
    assert resp.status_code == 302, resp.content.decode()[:3000]
    user = User.objects.get(username="rm_new")
    assert (user.role, user.branch, user.is_staff) == (Role.RM, world.b1, False)
    assert user.check_password("Quiet-Harbour-2031")
    event = AuditEvent.objects.get(type=AuditAction.STAFF_CREATED, object_id=str(user.pk))
    assert event.user == world.ho_user and event.changes["branch"] == [None, "B1"]


def test_hq_changes_role_and_branch(hq, world):
    url = reverse("admin:org_user_change", args=[world.rm.pk])
    form = {"last_name": world.rm.last_name, "first_name": world.rm.first_name, "email": "", "language": "",
            "role": Role.SUPERVISOR, "branch": world.b2.pk, "is_active": "on"}
    resp = hq.post(url, form)
    assert resp.status_code == 302, resp.content.decode()[:3000]
    world.rm.refresh_from_db()
    assert (world.rm.role, world.rm.branch) == (Role.SUPERVISOR, world.b2)
    event = AuditEvent.objects.get(type=AuditAction.STAFF_CHANGED)
    assert event.changes == {"role": ["rm", "supervisor"], "branch": ["B1", "B2"]}
    assert world.rm.check_password(PASSWORD)  # untouched
    # Every role but head office needs a branch: a field error, nothing saved.
    resp = hq.post(url, form | {"role": Role.RM, "branch": ""})
    assert resp.status_code == 200 and resp.context["adminform"].form.errors["branch"]
    world.rm.refresh_from_db()
    assert world.rm.role == Role.SUPERVISOR


def test_head_office_role_gives_admin_access_and_taking_it_away_removes_it(hq, world):
    url = reverse("admin:org_user_change", args=[world.sup_b1.pk])
    base = {"last_name": "", "first_name": "", "email": "", "language": "", "is_active": "on"}
    assert hq.post(url, base | {"role": Role.HEAD_OFFICE, "branch": world.ho.pk}).status_code == 302
    world.sup_b1.refresh_from_db()
    assert world.sup_b1.is_staff
    assert hq.post(url, base | {"role": Role.SUPERVISOR, "branch": world.b1.pk}).status_code == 302
    world.sup_b1.refresh_from_db()
    assert not world.sup_b1.is_staff


def test_hq_cannot_change_a_superuser(hq, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "Root-Pass-2031")
    page = hq.get(reverse("admin:org_user_change", args=[root.pk]))
    assert page.status_code == 200 and 'name="role"' not in page.content.decode()  # view only
    resp = hq.post(reverse("admin:org_user_change", args=[root.pk]), {"role": Role.RM, "is_active": ""})
    assert resp.status_code == 403
    resp = hq.post(reverse("admin:auth_user_password_change", args=[root.pk]),
                   {"password1": "Taken-Over-2031", "password2": "Taken-Over-2031"})
    assert resp.status_code == 403
    root.refresh_from_db()
    assert root.is_active and root.check_password("Root-Pass-2031")


# --- Access: only head office ---

ORG_PAGES = ["admin:org_apikey_changelist", "admin:org_apikey_add", "admin:org_user_changelist",
             "admin:org_user_add", "admin:org_branch_changelist", "admin:org_branch_add",
             "admin:core_auditevent_changelist", "admin:core_outboxmessage_changelist"]


@pytest.mark.parametrize("who", ["rm", "sup_b1", "co_b1"])
def test_other_roles_get_nothing_even_as_admin_staff(client, world, who):
    client.force_login(_staff(getattr(world, who)))
    for name in ORG_PAGES:
        assert client.get(reverse(name)).status_code == 403, name
    index = client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:org_apikey_changelist") not in index
    resp = client.post(reverse("admin:org_apikey_add"), _key_form(scopes=[Scope.PII_READ]))
    assert resp.status_code == 403 and not ApiKey.objects.exists()


def test_head_office_reaches_every_org_page(hq):
    for name in ORG_PAGES:
        assert hq.get(reverse(name)).status_code == 200, name
    index = hq.get(reverse("admin:index")).content.decode()
    for name in ("org_apikey", "org_user", "org_branch", "core_auditevent", "core_outboxmessage"):
        assert reverse(f"admin:{name}_changelist") in index


def test_anonymous_is_sent_to_the_login(client, world):
    for name in ORG_PAGES:
        resp = client.get(reverse(name))
        assert resp.status_code == 302 and "/admin/login/" in resp["Location"], name


def test_staff_made_by_the_service_is_admin_staff_only_for_head_office(world):
    from org.services import staff_create

    hq = staff_create(username="hq2", password=PASSWORD, role=Role.HEAD_OFFICE, branch=world.ho)
    rm = staff_create(username="rm2", password=PASSWORD, role=Role.RM, branch=world.b1)
    assert (hq.is_staff, rm.is_staff) == (True, False)


def test_head_office_finds_the_admin_in_the_navigation(client, world):
    from org.services import staff_create

    hq = staff_create(username="hq_nav", password=PASSWORD, role=Role.HEAD_OFFICE, branch=world.ho)
    client.force_login(hq)
    assert reverse("admin:index") in client.get(reverse("customers:list")).content.decode()
    client.force_login(world.sup_b1)
    assert reverse("admin:index") not in client.get(reverse("customers:list")).content.decode()
