"""Issue 9, item 12 on the customer (360°) page: notes are shown (escaped, line breaks kept); follow-up
tasks are added, completed and snoozed there, through the task services, with errors inline."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from customers.constants import TaskStatus
from customers.models import FollowUpTask

from .builders import FollowUpTaskFactory

NOW = "2026-11-20 10:00:00+08:00"


@pytest.fixture
def as_rm(world):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(world.rm)
    return client


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def detail(customer):
    return reverse("customers:detail", args=[customer.pk])


# --- notes ---
def test_notes_are_shown_escaped_with_their_line_breaks(world, as_rm):
    c = world.c_rm
    c.notes = "偏好电话联系\n<script>alert(1)</script> & 周末勿扰"
    c.save(update_fields=["notes"])
    html = as_rm.get(detail(c)).content.decode()
    assert ('data-testid="notes">偏好电话联系<br>&lt;script&gt;alert(1)&lt;/script&gt; &amp; 周末勿扰</dd>'
            in html)
    assert "<script>alert(1)</script>" not in html


def test_no_notes_shows_a_dash(world, as_rm):
    c = world.c_rm
    c.notes = ""
    c.save(update_fields=["notes"])
    assert 'data-testid="notes">—</dd>' in as_rm.get(detail(c)).content.decode()


# --- tasks from the customer page ---
def test_add_a_task_from_the_customer_page(world, as_rm, frozen):
    c = world.c_rm
    page = as_rm.get(detail(c)).content.decode()
    assert reverse("customers:customer-task-create", args=[c.pk]) in page
    response = as_rm.post(reverse("customers:customer-task-create", args=[c.pk]),
                          {"title": "送理财到期提醒", "due_date": "2026-11-27"})
    assert response.status_code == 302 and response.url == detail(c)
    task = FollowUpTask.objects.get(title="送理财到期提醒")
    assert (task.customer, task.assignee, task.due_date, task.status) == (
        c, c.rm, dt.date(2026, 11, 27), TaskStatus.OPEN)
    assert "送理财到期提醒" in as_rm.get(detail(c)).content.decode()


def test_adding_a_task_shows_every_error_inline_and_saves_nothing(world, as_rm, frozen):
    c = world.c_rm
    before = FollowUpTask.objects.count()
    response = as_rm.post(reverse("customers:customer-task-create", args=[c.pk]), {"title": "", "due_date": "x"})
    assert response.status_code == 400
    form = response.context["task_form"]
    assert set(form.errors) == {"title", "due_date"}
    html = response.content.decode()
    assert 'data-field-error="title"' in html and 'data-field-error="due_date"' in html
    response = as_rm.post(reverse("customers:customer-task-create", args=[c.pk]),
                          {"title": "回访", "due_date": "2026-11-01"})  # the service's rule: not in the past
    assert response.status_code == 400
    assert response.context["task_form"].errors == {"due_date": ["The due date cannot be in the past."]}
    assert FollowUpTask.objects.count() == before


def test_complete_a_task_from_the_customer_page(world, as_rm, frozen):
    c, task = world.c_rm, world.tasks["c_rm"]
    html = as_rm.get(detail(c)).content.decode()
    assert reverse("customers:customer-task-done", args=[c.pk, task.pk]) in html
    assert f'id="id_task{task.pk}_outcome"' in html  # one id per task's form
    response = as_rm.post(reverse("customers:customer-task-done", args=[c.pk, task.pk]), {"outcome": "已电话回访"})
    assert response.status_code == 302 and response.url == detail(c)
    task.refresh_from_db()
    assert (task.status, task.outcome) == (TaskStatus.DONE, "已电话回访")
    assert task.completed_at is not None
    again = as_rm.post(reverse("customers:customer-task-done", args=[c.pk, task.pk]), {"outcome": "再次"},
                       follow=True)
    assert [(m.level_tag, m.message) for m in again.context["messages"]] == [
        ("success", "Task done."), ("error", "This task is already closed.")]
    task.refresh_from_db()
    assert task.outcome == "已电话回访"


def test_snooze_a_task_from_the_customer_page_with_errors_inline(world, as_rm, frozen):
    c, task = world.c_rm, world.tasks["c_rm"]
    url = reverse("customers:customer-task-snooze", args=[c.pk, task.pk])
    response = as_rm.post(url, {"until": "2026-11-20"})
    assert response.status_code == 400
    assert response.context["open_tasks"][0].snooze_form.errors == {"until": ["Snooze to a later day."]}
    assert 'data-field-error="until"' in response.content.decode()
    assert as_rm.post(url, {"until": ""}).status_code == 400
    response = as_rm.post(url, {"until": "2026-12-05"})
    assert response.status_code == 302 and response.url == detail(c)
    task.refresh_from_db()
    assert task.due_date == dt.date(2026, 12, 5)


def test_tasks_of_other_customers_or_out_of_scope_are_404(world, as_rm, frozen):
    c = world.c_rm
    other_task = FollowUpTaskFactory(customer=world.customers["c_rm_outlet"], assignee=world.rm)
    # a task of another customer, reached through this customer's URL
    assert as_rm.post(reverse("customers:customer-task-done", args=[c.pk, other_task.pk])).status_code == 404
    # a customer outside the RM's book
    outsider = world.customers["c_b2"]
    assert as_rm.post(reverse("customers:customer-task-create", args=[outsider.pk]),
                      {"title": "x", "due_date": "2026-12-01"}).status_code == 404
    other_task.refresh_from_db()
    assert other_task.status == TaskStatus.OPEN


def test_the_branch_supervisor_can_act_on_the_branch_customers_tasks(world, frozen):
    sup = Client()
    sup.force_login(world.sup_b1)
    html = sup.get(detail(world.c_rm)).content.decode()
    assert 'data-testid="task-create-form"' in html and 'data-testid="task-done-form"' in html
    response = sup.post(reverse("customers:customer-task-create", args=[world.c_rm.pk]),
                        {"title": "主管督办", "due_date": "2026-11-21"})
    assert response.status_code == 302
    assert FollowUpTask.objects.get(title="主管督办").assignee == world.c_rm.rm
