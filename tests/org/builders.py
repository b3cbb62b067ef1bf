"""Data builders for org: branches, staff and API keys, and the small organisation most tests stand on.

Branches go through ``org.services.branch_create`` (so ``path`` is parent.path + code + "/"), API keys
through ``org.services.api_key_create`` (the raw key is kept on the instance as ``raw_key``).
"""

from dataclasses import dataclass

import factory
from faker import Faker

from org.constants import BranchLevel, Role, Scope
from org.models import ApiKey, Branch, User
from org.services import api_key_create, branch_create

fake = Faker("zh_CN")
PASSWORD = "Test-Passw0rd-123"
ALL_SCOPES = [s.value for s in Scope]


class BranchFactory(factory.Factory):
    class Meta:
        model = Branch

    code = factory.Sequence(lambda n: f"BR{n:04d}")
    name = factory.LazyAttribute(lambda o: f"{o.code}支行")
    level = BranchLevel.BRANCH
    parent = None

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        path = f"{kwargs['parent'].path if kwargs.get('parent') else '/'}{kwargs['code']}/"
        return model_class(path=path, **kwargs)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return branch_create(**kwargs)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n:04d}")
    first_name = factory.LazyFunction(fake.first_name)
    last_name = factory.LazyFunction(fake.last_name)
    role = Role.RM
    branch = factory.SubFactory(BranchFactory)
    is_active = True
    password = factory.django.Password(PASSWORD)


class RMFactory(UserFactory):
    role = Role.RM


class SupervisorFactory(UserFactory):
    role = Role.SUPERVISOR


class ComplaintOfficerFactory(UserFactory):
    role = Role.COMPLAINT_OFFICER


class HeadOfficeUserFactory(UserFactory):
    role = Role.HEAD_OFFICE


class ApiKeyFactory(factory.Factory):
    """``ApiKeyFactory(scopes=[...], branch=...)``: an ApiKey with ``raw_key`` (the secret) attached."""

    class Meta:
        model = ApiKey

    name = factory.Sequence(lambda n: f"core-banking-{n}")
    scopes = factory.LazyFunction(lambda: list(ALL_SCOPES))
    branch = None
    expiry_date = None

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        api_key, raw = api_key_create(**kwargs)
        api_key.raw_key = raw
        return api_key


@dataclass
class Org:
    """Head office HO → branch B1 (outlet B1a) and branch B2, with one member of staff per role of the matrix."""

    ho: Branch
    b1: Branch
    b1a: Branch
    b2: Branch
    rm: User
    other_rm: User
    rm_b2: User
    sup_b1: User
    sup_b2: User
    ho_user: User
    co_b1: User


def build_org() -> Org:
    """The branches and staff of :class:`Org` (no customers)."""
    ho = BranchFactory(code="HO", name="总行", level=BranchLevel.HEAD_OFFICE)
    b1 = BranchFactory(code="B1", name="福州分行", level=BranchLevel.BRANCH, parent=ho)
    b1a = BranchFactory(code="B1A", name="五四路支行", level=BranchLevel.OUTLET, parent=b1)
    b2 = BranchFactory(code="B2", name="厦门分行", level=BranchLevel.BRANCH, parent=ho)
    return Org(
        ho=ho, b1=b1, b1a=b1a, b2=b2,
        rm=RMFactory(username="rm", branch=b1, last_name="王", first_name="经理"),
        other_rm=RMFactory(username="other_rm", branch=b1, last_name="李", first_name="经理"),
        rm_b2=RMFactory(username="rm_b2", branch=b2, last_name="陈", first_name="经理"),
        sup_b1=SupervisorFactory(username="sup_b1", branch=b1),
        sup_b2=SupervisorFactory(username="sup_b2", branch=b2),
        ho_user=HeadOfficeUserFactory(username="ho_user", branch=ho),
        co_b1=ComplaintOfficerFactory(username="co_b1", branch=b1),
    )
