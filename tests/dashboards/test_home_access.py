"""Access matrix of the home page (``/``): every principal, with and without ``?rm=`` and ``?branch=``.

Rules (DOMAIN.md §1, DESIGN.md Tests), as in tests/segmentation/test_book_access.py:
- an RM sees their own home only: another RM's id, any id outside their book → 404 (never a hint);
- a supervisor sees the team of their branch subtree and the home of each of its RMs; an RM or a branch outside the
  subtree → 404;
- head office sees any RM's home and the team of any branch below the root;
- a complaint officer has no home: ``/`` goes on to the customer list (as it always did);
- anonymous, and a request carrying only an API key (pages are for signed-in staff) → 302 to the login page.
"""

import pytest
from django.test import Client

from tests.org.builders import ApiKeyFactory, RMFactory, SupervisorFactory

from .builders import NOW

pytestmark = pytest.mark.django_db
HOME = "/"


def as_(w, who) -> Client:
    if who == "anonymous":
        return Client()
    if who == "api_key_header":
        return Client(HTTP_AUTHORIZATION=f"Api-Key {ApiKeyFactory().raw_key}")
    c = Client(HTTP_ACCEPT_LANGUAGE="en")
    c.force_login(getattr(w, who))
    return c


def rm_of(w, name):
    return getattr(w, name).pk


# (principal, query) → status and what the page shows: "own" (the viewer's own home), "home:<rm>" (that RM's),
# "team:<branch>" (the team of that branch), "choose" (head office, no branch chosen yet)
MATRIX = [
    ("rm", {}, 200, "home:rm"),
    ("rm", {"rm": "rm"}, 200, "home:rm"),
    ("rm", {"rm": "other_rm"}, 404, None),
    ("rm", {"rm": "rm_b2"}, 404, None),
    ("rm", {"rm": "sup_b1"}, 404, None),
    ("rm", {"branch": "b2"}, 200, "home:rm"),  # an RM has no team: the parameter changes nothing
    ("other_rm", {}, 200, "home:other_rm"),
    ("other_rm", {"rm": "rm"}, 404, None),
    ("rm_b2", {"rm": "rm"}, 404, None),
    ("sup_b1", {}, 200, "team:b1"),
    ("sup_b1", {"rm": "rm"}, 200, "home:rm"),
    ("sup_b1", {"rm": "other_rm"}, 200, "home:other_rm"),
    ("sup_b1", {"rm": "rm_b2"}, 404, None),
    ("sup_b1", {"rm": "sup_b1"}, 404, None),  # not an RM
    ("sup_b1", {"rm": "co_b1"}, 404, None),
    ("sup_b1", {"branch": "b1a"}, 200, "team:b1a"),
    ("sup_b1", {"branch": "b2"}, 404, None),
    ("sup_b1", {"branch": "ho"}, 404, None),
    ("sup_b2", {}, 200, "team:b2"),
    ("sup_b2", {"rm": "rm"}, 404, None),
    ("sup_b2", {"rm": "rm_b2"}, 200, "home:rm_b2"),
    ("sup_b2", {"branch": "b1"}, 404, None),
    ("ho_user", {}, 200, "choose"),
    ("ho_user", {"branch": "b1"}, 200, "team:b1"),
    ("ho_user", {"branch": "b2"}, 200, "team:b2"),
    ("ho_user", {"branch": "ho"}, 404, None),
    ("ho_user", {"rm": "rm_b2"}, 200, "home:rm_b2"),
    ("ho_user", {"rm": "ho_user"}, 404, None),
]


@pytest.mark.parametrize(("who", "query", "status", "shows"), MATRIX,
                         ids=[f"{m[0]}-{'-'.join(f'{k}={v}' for k, v in m[1].items()) or 'plain'}" for m in MATRIX])
def test_the_home_shows_exactly_the_viewers_scope(w, who, query, status, shows):
    params = {k: getattr(w, v).pk for k, v in query.items()}
    r = as_(w, who).get(HOME, params)
    assert r.status_code == status, r.content[:300]
    if status != 200:
        assert "home" not in (r.context or {}) and "team" not in (r.context or {})
        return
    kind, _sep, name = shows.partition(":")
    if kind == "home":
        assert r.context["home"].rm.pk == getattr(w, name).pk
        assert "team" not in r.context
    elif kind == "team":
        team = r.context["team"]
        assert team.branch.pk == getattr(w, name).pk
        in_branch = {u.pk for u in (w.rm, w.other_rm, w.rm_b2) if u.branch.path.startswith(team.branch.path)}
        assert {row.rm_id for row in team.page.object_list} == in_branch
    else:
        assert r.context["team"].branch is None and r.context["team"].page is None


@pytest.mark.parametrize("who", ["anonymous", "api_key_header"])
@pytest.mark.parametrize("query", [{}, {"rm": "rm"}, {"branch": "b1"}])
def test_anonymous_and_api_keys_go_to_the_login_page(w, who, query):
    params = {k: getattr(w, v).pk for k, v in query.items()}
    r = as_(w, who).get(HOME, params)
    assert r.status_code == 302 and r.url.startswith("/login/?next=/")


@pytest.mark.parametrize("query", [{}, {"rm": "rm"}])
def test_a_complaint_officer_goes_on_to_the_customer_list(w, query):
    params = {k: getattr(w, v).pk for k, v in query.items()}
    r = as_(w, "co_b1").get(HOME, params)
    assert r.status_code == 302 and r.url == "/customers/"


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "99999999", "99999999999999999999999", " 1"])
@pytest.mark.parametrize("param", ["rm", "branch"])
def test_a_malformed_or_unknown_id_is_a_404(w, param, value):
    who = "ho_user"
    assert as_(w, who).get(HOME, {param: value}).status_code == 404


def test_an_id_in_other_digits_is_not_an_id(w):
    arabic_indic = str(w.rm_b2.pk).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    ho = as_(w, "ho_user")
    assert ho.get(HOME, {"rm": w.rm_b2.pk}).status_code == 200
    assert ho.get(HOME, {"rm": arabic_indic}).status_code == 404


def test_an_inactive_rm_and_an_rm_moved_out_of_the_subtree_are_404_for_the_supervisor(w):
    gone = RMFactory(branch=w.b1, is_active=False)
    moved = RMFactory(branch=w.b2)
    sup = as_(w, "sup_b1")
    assert sup.get(HOME, {"rm": gone.pk}).status_code == 404
    assert sup.get(HOME, {"rm": moved.pk}).status_code == 404


def test_an_outlet_supervisor_does_not_see_the_branch_above(w):
    outlet_sup = SupervisorFactory(branch=w.b1a)
    outlet_rm = RMFactory(branch=w.b1a)
    c = Client()
    c.force_login(outlet_sup)
    team = c.get(HOME).context["team"]
    assert [row.rm_id for row in team.page.object_list] == [outlet_rm.pk]
    assert c.get(HOME, {"rm": w.rm.pk}).status_code == 404  # rm works at B1, above the outlet
    assert c.get(HOME, {"branch": w.b1.pk}).status_code == 404


def test_a_supervisor_sees_only_the_part_of_an_rms_book_in_their_subtree(w):
    """An RM of B1 whose customer sits at B2: B1's supervisor sees the RM's home without that customer's rows."""
    from tests.customers.builders import FollowUpTaskFactory

    task = FollowUpTaskFactory(customer__rm=w.rm, customer__branch=w.b2, due_date=NOW.date())
    rm_sees = as_(w, "rm").get(HOME).context["home"]
    sup_sees = as_(w, "sup_b1").get(HOME, {"rm": w.rm.pk}).context["home"]
    assert task.pk in {t.pk for t in rm_sees.tasks_today.rows}
    assert task.pk not in {t.pk for t in sup_sees.tasks_today.rows}
    assert sup_sees.tasks_today.count == rm_sees.tasks_today.count - 1
