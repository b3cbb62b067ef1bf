"""Issue 9, item 12 on the customer forms: one submit shows every error (the form's own and the service's
cross-field ones); selects start with 全部 (filters) / 请选择 (edit forms); labels end with a full-width
colon in Chinese; tag errors are plain and name the tag; blank tags are ignored."""


import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from customers.forms import CustomerForm, InteractionForm
from customers.models import Customer

from .builders import valid_form


def client_for(user, language):
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    user.language = ""  # the browser's language decides
    user.save(update_fields=["language"])
    return client


# --- every error at once ---
def test_one_submit_shows_field_errors_and_the_services_cross_field_errors(world):
    client = client_for(world.rm, "en")
    before = Customer.objects.count()
    response = client.post(reverse("customers:create"), valid_form(
        world,
        name="名" * 101,  # the form's own check (max length)
        risk_level="C9",  # the form's own check (choice)
        mobile="1234567",  # the service's rule
        id_number="110105199005170001",  # the service's rule (check character)
        cif="CIF 1",  # the service's rule (format)
    ))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"name", "risk_level", "mobile", "id_number", "cif"}, errors
    assert errors["mobile"] == ["Enter a mainland mobile number: 11 digits starting 13–19 (a +86 prefix is fine)."]
    assert "check character" in errors["id_number"][0]
    html = response.content.decode()
    for field in ("name", "risk_level", "mobile", "id_number", "cif"):
        assert f'data-field-error="{field}"' in html
    assert Customer.objects.count() == before


def test_a_field_that_failed_its_own_check_gets_no_second_error_from_the_service(world):
    client = client_for(world.rm, "en")
    # birth_date does not parse: the service must not add "does not match the ID" on top of "Enter a valid date".
    response = client.post(reverse("customers:create"), valid_form(world, birth_date="1990-02-30",
                                                                    mobile="999"))
    errors = response.context["form"].errors
    assert errors["birth_date"] == ["Enter a valid date."]
    assert set(errors) == {"birth_date", "mobile"}


def test_only_form_errors_add_no_general_error(world):
    client = client_for(world.rm, "en")
    response = client.post(reverse("customers:create"), valid_form(world, name=""))
    assert response.context["form"].errors == {"name": ["This field is required."]}


def test_interaction_form_shows_every_error_at_once(world, time_machine):
    from customers.models import Interaction

    time_machine.move_to("2026-11-20 10:00:00+08:00", tick=False)
    client = client_for(world.rm, "en")
    before = Interaction.objects.count()
    response = client.post(reverse("customers:interaction-create", args=[world.c_rm.pk]), {
        "channel": "pigeon", "occurred_at": "2026-12-20T09:30", "outcome": "reached",
        "next_follow_up": "2026-11-01"})
    assert response.status_code == 400
    errors = response.context["interaction_form"].errors
    assert set(errors) == {"channel", "occurred_at", "next_follow_up"}, errors
    assert errors["occurred_at"] == ["An interaction cannot be in the future."]
    assert Interaction.objects.count() == before


def test_edit_form_also_shows_every_error_at_once(world):
    client = client_for(world.rm, "en")
    c = world.c_rm
    response = client.post(reverse("customers:edit", args=[c.pk]), {
        "cif": c.cif, "kind": "individual", "name": "", "lifecycle_stage": "growth", "branch": world.b1.pk,
        "rm": world.rm.pk, "risk_level": "C3", "birth_date": "2999-01-01", "id_type": c.id_type})
    errors = response.context["form"].errors
    assert {"name", "risk_assessed_on", "birth_date"} <= set(errors), errors
    c.refresh_from_db()
    assert c.name != ""


# --- select placeholders and label colons, both languages ---
@pytest.mark.parametrize(("language", "all_label", "choose", "colon"), [
    ("zh-hans", "全部", "请选择", "："), ("en", "All", "Choose…", ":")])
def test_select_placeholders_and_label_suffix(world, language, all_label, choose, colon):
    client = client_for(world.sup_b1, language)
    html = client.get(reverse("customers:list")).content.decode()
    assert "---------" not in html
    assert f'<option value="" >{all_label}</option>' in html
    with translation.override(language):
        rm_label = str(translation.gettext("Relationship manager"))
    assert f'<label for="id_rm">{rm_label}{colon}</label>' in html

    form_html = client.get(reverse("customers:create")).content.decode()
    assert "---------" not in form_html
    assert f'<option value="" selected>{choose}</option>' in form_html
    with translation.override(language):
        form = CustomerForm(user=world.sup_b1)
        assert form["branch"].label_tag().endswith(f"{colon}</label>")
        assert InteractionForm()["channel"].label_tag().endswith(f"{colon}</label>")


# --- tags ---
def test_blank_tags_and_repeats_are_ignored(world):
    client = client_for(world.rm, "en")
    response = client.post(reverse("customers:create"), valid_form(world, tags="a, , b,，代发、a,"))
    assert response.status_code == 302, response.context["form"].errors
    assert Customer.objects.get(cif="CIF9000000001").tags == ["a", "b", "代发"]


@pytest.mark.parametrize(("language", "message"), [
    ("zh-hans", "标签“{tag}”太长：每个标签最多 30 个字符。"),
    ("en", "The tag “{tag}” is too long: a tag has at most 30 characters."),
])
def test_a_too_long_tag_gets_a_plain_message_naming_it(world, language, message):
    client = client_for(world.rm, language)
    long_tag = "长" * 31
    response = client.post(reverse("customers:create"), valid_form(world, tags=f"VIP, {long_tag}"))
    assert response.status_code == 200
    assert response.context["form"].errors["tags"] == [message.format(tag=long_tag)]
    assert "array" not in response.content.decode().lower()


def test_edit_form_shows_the_stored_tags_as_one_line(world):
    c = world.c_rm
    c.tags = ["VIP", "代发"]
    c.save(update_fields=["tags"])
    form = CustomerForm(instance=c, user=world.rm)
    assert 'value="VIP, 代发"' in str(form["tags"])
