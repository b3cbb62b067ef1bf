"""factory-boy factories for org and customers.

Branches go through ``org.services.branch_create`` (so ``path`` is parent.path + code + "/"), API keys
through ``org.services.api_key_create`` (the raw key is kept on the instance as ``raw_key``). Customers
get valid resident IDs (check character from ``customers.rules``) and their name bigrams.
"""

import datetime as dt
import itertools
from decimal import Decimal

import factory
from django.utils import timezone
from faker import Faker

from customers import rules
from customers.constants import (
    Channel,
    CustomerKind,
    Gender,
    HoldingStatus,
    IdType,
    InteractionOutcome,
    LifecycleStage,
    ProductType,
    TaskStatus,
)
from customers.models import Customer, FinancialSnapshot, FollowUpTask, Holding, Interaction
from org.constants import BranchLevel, Role, Scope
from org.models import ApiKey, Branch, User
from org.services import api_key_create, branch_create

fake = Faker("zh_CN")
PASSWORD = "Test-Passw0rd-123"
ALL_SCOPES = [s.value for s in Scope]

_id_seq = itertools.count(1)


def make_resident_id(birth_date: dt.date, gender: str = Gender.MALE, area: str = "110105",
                     seq: int | None = None) -> str:
    """A valid 18-character resident ID for the given birth date and gender."""
    seq = next(_id_seq) if seq is None else seq
    order = seq % 100  # digits 15-16
    sex_digit = (seq % 5) * 2 + (1 if gender == Gender.MALE else 0)  # digit 17: odd = male
    first17 = f"{area}{birth_date:%Y%m%d}{order:02d}{sex_digit}"
    return first17 + rules.resident_id_check_char(first17)


def make_credit_code(seq: int = 1) -> str:
    """A valid unified social credit code."""
    first17 = f"91350100M{seq:08d}"
    return first17 + rules.credit_code_check_char(first17)


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


_mobile_seq = itertools.count(1)


def make_mobile() -> str:
    return f"139{next(_mobile_seq):08d}"


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    class Params:
        male = factory.LazyFunction(lambda: fake.pybool())

    cif = factory.Sequence(lambda n: f"C{n:09d}")
    kind = CustomerKind.INDIVIDUAL
    name = factory.LazyFunction(fake.name)
    name_bigrams = factory.LazyAttribute(lambda o: rules.bigrams(o.name))
    gender = factory.LazyAttribute(lambda o: Gender.MALE if o.male else Gender.FEMALE)
    birth_date = factory.LazyFunction(lambda: fake.date_of_birth(minimum_age=20, maximum_age=80))
    id_type = IdType.RESIDENT_ID
    id_number = factory.LazyAttribute(lambda o: make_resident_id(o.birth_date, o.gender))
    mobile = factory.LazyFunction(make_mobile)
    lifecycle_stage = LifecycleStage.GROWTH
    rm = factory.SubFactory(RMFactory)
    branch = factory.LazyAttribute(lambda o: o.rm.branch if o.rm is not None else BranchFactory())
    tags = factory.LazyFunction(list)
    aum_latest = Decimal(0)


class CorporateCustomerFactory(CustomerFactory):
    kind = CustomerKind.CORPORATE
    gender = ""
    birth_date = None
    id_type = ""
    id_number = ""
    credit_code = factory.Sequence(make_credit_code)
    legal_representative = factory.LazyFunction(fake.name)


def _month_start(n: int) -> dt.date:
    year, month = divmod(2025 * 12 + n, 12)
    return dt.date(year, month + 1, 1)


class FinancialSnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FinancialSnapshot

    customer = factory.SubFactory(CustomerFactory)
    period = factory.Sequence(lambda n: _month_start(n % 12))
    aum = Decimal("120000.00")
    aum_avg = Decimal("110000.00")
    deposits = Decimal("60000.00")
    wealth = Decimal("50000.00")
    funds = Decimal("10000.00")
    txn_count = 12


class HoldingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Holding

    customer = factory.SubFactory(CustomerFactory)
    account_no = factory.Sequence(lambda n: f"6222020200{n:09d}")
    product_code = factory.Sequence(lambda n: f"P{n:05d}")
    product_name = "薪金宝"
    product_type = ProductType.DEPOSIT
    balance = Decimal("50000.00")
    status = HoldingStatus.ACTIVE


class InteractionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interaction

    customer = factory.SubFactory(CustomerFactory)
    staff = factory.LazyAttribute(lambda o: o.customer.rm)
    channel = Channel.PHONE
    occurred_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=1))
    outcome = InteractionOutcome.REACHED
    notes = "电话回访，客户满意。"


class FollowUpTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FollowUpTask

    customer = factory.SubFactory(CustomerFactory)
    assignee = factory.LazyAttribute(lambda o: o.customer.rm)
    title = factory.LazyAttribute(lambda o: f"回访 {o.customer.name}")
    due_date = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=3))
    status = TaskStatus.OPEN


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
