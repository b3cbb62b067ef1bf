"""Branches in the admin go through org.services; the database refuses an empty or malformed path (issue 9, item 7).

An empty path prefix matches every branch: a supervisor of a branch saved with path "" would see the whole bank.
"""

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from org.constants import BranchLevel
from org.models import Branch

pytestmark = pytest.mark.django_db


@pytest.fixture
def hq_admin(client, org_world):
    """Head office in the admin (head-office staff reach it; see test_admin_access.py)."""
    user = org_world.ho_user
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client.force_login(user)
    return client


def test_admin_add_branch_sets_the_path_through_the_service(hq_admin, org_world):
    resp = hq_admin.post(reverse("admin:org_branch_add"),
                         {"code": "B1B", "name": "鼓楼支行", "level": BranchLevel.OUTLET, "parent": org_world.b1.pk})
    assert resp.status_code == 302, resp.content.decode()[:2000]
    branch = Branch.objects.get(code="B1B")
    assert branch.path == "/HO/B1/B1B/"
    assert not Branch.objects.filter(path="").exists()


def test_admin_post_cannot_create_a_branch_with_an_empty_or_bad_path(hq_admin, org_world):
    """A code that cannot be part of a path is a field error on the form; nothing is saved."""
    before = Branch.objects.count()
    for code in ("", "B 1", "B1/X", "鼓楼"):
        resp = hq_admin.post(reverse("admin:org_branch_add"),
                             {"code": code, "name": "x", "level": BranchLevel.OUTLET, "parent": org_world.b1.pk,
                              "path": ""})
        assert resp.status_code == 200, code
        assert resp.context["adminform"].form.errors.get("code"), code
    assert Branch.objects.count() == before
    assert not Branch.objects.filter(path="").exists()


def test_admin_change_branch_renames_only(hq_admin, org_world):
    """Code, parent and level are read-only once created (moving a branch would re-scope its staff)."""
    url = reverse("admin:org_branch_change", args=[org_world.b1a.pk])
    resp = hq_admin.post(url, {"code": "ZZ", "name": "五四北路支行", "level": BranchLevel.BRANCH,
                               "parent": org_world.b2.pk, "path": ""})
    assert resp.status_code == 302, resp.content.decode()[:2000]
    org_world.b1a.refresh_from_db()
    assert (org_world.b1a.code, org_world.b1a.name, org_world.b1a.level, org_world.b1a.parent_id, org_world.b1a.path) == (
        "B1A", "五四北路支行", BranchLevel.OUTLET, org_world.b1.pk, "/HO/B1/B1A/")


def test_admin_cannot_delete_a_branch(hq_admin, org_world):
    resp = hq_admin.post(reverse("admin:org_branch_delete", args=[org_world.b1a.pk]), {"post": "yes"})
    assert resp.status_code == 403
    assert Branch.objects.filter(pk=org_world.b1a.pk).exists()


@pytest.mark.parametrize("path", ["", "/", "HO/", "/HO", "/HO//", "/H O/", "/HO/%/", "//"])
def test_database_rejects_an_empty_or_malformed_path(org_world, path):
    with pytest.raises(IntegrityError), transaction.atomic():
        Branch.objects.create(code="NEW", name="x", level=BranchLevel.OUTLET, parent=org_world.b1, path=path)
    with pytest.raises(IntegrityError), transaction.atomic():
        Branch.objects.filter(pk=org_world.b1a.pk).update(path=path)


def test_database_accepts_the_paths_the_service_makes(org_world):
    assert sorted(Branch.objects.values_list("path", flat=True)) == ["/HO/", "/HO/B1/", "/HO/B1/B1A/", "/HO/B2/"]
