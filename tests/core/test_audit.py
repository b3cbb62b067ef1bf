"""core.audit: one event form, written only inside the transaction of the change it records."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import models, transaction

from core import audit
from core.models import AuditEvent
from org import services
from org.constants import AuditAction, BranchLevel
from org.models import Branch
from tests.org.builders import ApiKeyFactory, BranchFactory, HeadOfficeUserFactory, RMFactory


class Boom(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_record_outside_a_transaction_refuses():
    branch = BranchFactory(code="HQ", level=BranchLevel.HEAD_OFFICE)
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit.record(type=AuditAction.BRANCH_RENAMED, obj=branch)
    assert not AuditEvent.objects.filter(type=AuditAction.BRANCH_RENAMED).exists()


@pytest.mark.django_db(transaction=True)
def test_a_change_rolled_back_leaves_no_event():
    user = HeadOfficeUserFactory()
    before = AuditEvent.objects.count()
    with pytest.raises(Boom), transaction.atomic():
        services.branch_create(code="BJ", name="北京分行", level=BranchLevel.BRANCH, actor=user)
        assert AuditEvent.objects.filter(type=AuditAction.BRANCH_CREATED, object_repr="北京分行").count() == 1
        raise Boom
    assert not Branch.objects.filter(code="BJ").exists()
    assert AuditEvent.objects.count() == before


@pytest.mark.django_db
def test_record_keeps_who_which_actor_on_whose_behalf_what_which_object_old_and_new():
    branch = BranchFactory(code="HQ", level=BranchLevel.HEAD_OFFICE)
    rm = RMFactory(branch=branch)
    api_key = ApiKeyFactory()
    with transaction.atomic():
        event = audit.record(type=AuditAction.BRANCH_RENAMED, obj=branch, api_key=api_key, on_behalf_of=rm,
                             changes={"name": ["旧", "新"]})
    event.refresh_from_db()
    assert (event.user, event.api_key, event.on_behalf_of) == (None, str(api_key.pk), rm)
    assert (event.type, event.object_type, event.object_id, event.object_repr) == (
        "branch_renamed", "branch", str(branch.pk), str(branch))
    assert event.changes == {"name": ["旧", "新"]} and event.at is not None
    assert event.get_type_display() == AuditAction.BRANCH_RENAMED.label


@pytest.mark.django_db
def test_an_anonymous_user_is_recorded_as_nobody():
    branch = BranchFactory(code="HQ", level=BranchLevel.HEAD_OFFICE)
    with transaction.atomic():
        event = audit.record(type=AuditAction.BRANCH_RENAMED, obj=branch, user=AnonymousUser())
    assert event.user is None and event.api_key == ""


@pytest.mark.django_db
def test_an_unregistered_type_is_refused():
    branch = BranchFactory(code="HQ", level=BranchLevel.HEAD_OFFICE)
    with pytest.raises(ValueError, match="unknown audit event type"), transaction.atomic():
        audit.record(type="something_else", obj=branch)


def test_each_app_registers_its_own_types_and_a_value_taken_twice_is_refused():
    class Other(models.TextChoices):
        BRANCH_CREATED = "branch_created", "Something else"

    assert ("branch_created", AuditAction.BRANCH_CREATED.label) in audit.type_choices()
    with pytest.raises(ValueError, match="registered twice"):
        audit.event_types(Other)
    assert audit.event_types(AuditAction) is AuditAction  # the same enum again is harmless
