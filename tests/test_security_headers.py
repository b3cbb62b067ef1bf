"""Issue 9 items 1 and 11: every page sends a Content-Security-Policy without inline script or foreign
origins, no template carries an inline script, style or event handler, authenticated responses are never
cached, and the API schema and docs need a login (CRM_API_DOCS_PUBLIC)."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR) / "templates"
API = "/api/v1"


def csp_directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


class InlineCode(HTMLParser):
    """Inline <script>s (other than JSON data), on… handler attributes and style attributes/elements."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and not attrs.get("src") and attrs.get("type") != "application/json":
            self.found.append(f"<script> without src: {attrs}")
        if tag == "style":
            self.found.append("<style> element")
        for name in attrs:
            if name.startswith("on") or name == "style":
                self.found.append(f"<{tag} {name}=…>")
            if name in ("href", "src", "action") and (attrs[name] or "").lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=javascript:…>")


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


@pytest.fixture
def as_hq(world):
    client = Client()
    client.force_login(world.ho_user)
    return client


def pages(world):
    c = world.c_rm
    return [reverse("customers:list"), reverse("customers:list") + "?q=张", reverse("customers:detail", args=[c.pk]),
            reverse("customers:edit", args=[c.pk]), reverse("customers:create"), reverse("customers:tasks"),
            reverse("customers:tasks") + "?status=done", reverse("audit-log"), reverse("customers:import"),
            reverse("api-docs"), "/customers/999999/"]


def test_every_page_sends_a_strict_csp_and_has_no_inline_code(world, as_hq):
    for url in pages(world):
        response = as_hq.get(url)
        assert response.status_code == (404 if url == "/customers/999999/" else 200), (url, response.status_code)
        policy = csp_directives(response)
        assert policy["default-src"] == ["'self'"], url
        assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"], url
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"], url
        assert not any("unsafe" in source or source in ("*", "http:", "https:")
                       for sources in policy.values() for source in sources), (url, policy)
        assert not inline_code(response.content.decode()), (url, inline_code(response.content.decode()))


def test_signed_out_pages_send_the_csp_too(client):
    for url in (reverse("login"), "/no-such-page/"):
        response = client.get(url)
        assert "script-src 'self'" in response["Content-Security-Policy"]
        assert not inline_code(response.content.decode()), url


def test_the_reveal_fragment_sends_the_csp(world, as_hq):
    response = as_hq.post(reverse("customers:reveal", args=[world.c_rm.pk, "mobile"]),
                          {"mobile-reason": "customer_request"})
    assert response.status_code == 200 and "script-src 'self'" in response["Content-Security-Policy"]


@pytest.mark.parametrize("path", sorted(str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html")))
def test_no_template_has_inline_script_style_or_handlers(path):
    source = (TEMPLATES / path).read_text(encoding="utf-8")
    source = re.sub(r"{%.*?%}|{{.*?}}|{#.*?#}", "x", source, flags=re.DOTALL)  # template tags as plain text
    assert not inline_code(source), inline_code(source)


def test_htmx_does_not_inject_its_inline_indicator_style(world, as_hq):
    html = as_hq.get(reverse("customers:list")).content.decode()
    assert '<meta name="htmx-config" content=\'{"includeIndicatorStyles":false,"attributesToSettle":["class","width","height"]}\'>' in html


# --- Cache-Control: no-store on what carries personal data ---

def test_pages_of_a_signed_in_user_are_not_stored(world, as_hq):
    for url in pages(world):
        assert as_hq.get(url)["Cache-Control"] == "no-store", url


def test_api_detail_and_list_are_not_stored(world, client_for, read_key_client):
    rm = client_for(world.rm)
    assert rm.get(f"{API}/customers/{world.c_rm.pk}/")["Cache-Control"] == "no-store"
    assert rm.get(f"{API}/customers/")["Cache-Control"] == "no-store"
    response = read_key_client.get(f"{API}/customers/")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"  # API keys too


def test_static_files_keep_their_caching(world, as_hq):
    response = as_hq.get("/static/js/crm.js")
    assert response.status_code == 200 and response.get("Cache-Control") != "no-store"


# --- The API schema and docs need a login unless CRM_API_DOCS_PUBLIC ---

def test_anonymous_docs_redirect_to_login_and_schema_is_401(client):
    docs = client.get(reverse("api-docs"))
    assert docs.status_code == 302 and docs.url.startswith(reverse("login") + "?next=")
    script = client.get(reverse("api-docs") + "?script=")
    assert script.status_code == 302
    schema = client.get(reverse("schema"), HTTP_ACCEPT="application/json")
    assert schema.status_code == 401 and schema.json()["code"] == "not_authenticated"
    assert "paths" not in schema.content.decode()


def test_signed_in_users_and_keys_get_schema_and_docs(world, as_hq, read_key_client):
    docs = as_hq.get(reverse("api-docs"))
    assert docs.status_code == 200 and b"swagger-ui" in docs.content
    script = as_hq.get(reverse("api-docs") + "?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert '"validatorUrl": null' in script.content.decode()  # no call to swagger.io's validator
    assert as_hq.get(reverse("schema")).status_code == 200
    assert read_key_client.get(reverse("schema")).status_code == 200


def test_public_docs_when_the_setting_says_so(client, settings):
    settings.CRM_API_DOCS_PUBLIC = True
    assert client.get(reverse("api-docs")).status_code == 200
    assert client.get(reverse("schema")).status_code == 200
