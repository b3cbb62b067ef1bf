"""Data builders for customers: valid IDs and mobiles, customers and their records, and the customer book.

Customers get valid resident IDs (check character from ``customers.rules``) and their name bigrams. The
book (:func:`build_world`) puts four customers on the organisation of ``tests.org.builders.build_org``.
"""

import datetime as dt
import itertools
from dataclasses import dataclass, field
from decimal import Decimal

import factory
from django.utils import timezone

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
from tests.org.builders import BranchFactory, Org, RMFactory, build_org, fake

_id_seq = itertools.count(1)
_mobile_seq = itertools.count(1)


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


@dataclass
class World(Org):
    """:class:`tests.org.builders.Org` with a customer book: four customers and one record of each kind each."""

    customers: dict = field(default_factory=dict)  # name → Customer
    snapshots: dict = field(default_factory=dict)  # customer name → snapshot
    holdings: dict = field(default_factory=dict)
    interactions: dict = field(default_factory=dict)
    tasks: dict = field(default_factory=dict)

    @property
    def c_rm(self) -> Customer:
        """The RM's customer at B1: the target of the access matrix."""
        return self.customers["c_rm"]

    def visible_customer_ids(self, who: str) -> set[int]:
        """Which customers each principal of the access matrix may see (DOMAIN.md §1)."""
        c = self.customers
        every = {x.pk for x in c.values()}
        in_b1 = {c["c_rm"].pk, c["c_rm_outlet"].pk, c["c_other"].pk}
        return {
            "rm": {c["c_rm"].pk, c["c_rm_outlet"].pk},
            "other_rm": {c["c_other"].pk},
            "rm_b2": {c["c_b2"].pk},
            "sup_b1": in_b1,
            "sup_b2": {c["c_b2"].pk},
            "ho_user": every,
            "co_b1": set(),
            "anonymous": set(),
            "key_read": every,
            "key_b2": {c["c_b2"].pk},
        }[who]


def build_world() -> World:
    """The organisation of ``build_org`` and its customer book.

    customers: c_rm (rm, B1), c_rm_outlet (rm, B1a), c_other (other_rm, B1), c_b2 (rm_b2, B2);
    each has one snapshot, one holding, one interaction and one open task.
    """
    org = build_org()
    w = World(**vars(org))
    specs = {
        "c_rm": {"name": "张伟明", "rm": w.rm, "branch": w.b1, "aum_latest": Decimal("500000.00"),
                 "tags": ["VIP", "代发"]},
        "c_rm_outlet": {"name": "刘芳华", "rm": w.rm, "branch": w.b1a, "aum_latest": Decimal("80000.00")},
        "c_other": {"name": "赵敏", "rm": w.other_rm, "branch": w.b1, "aum_latest": Decimal("200000.00")},
        "c_b2": {"name": "孙丽娟", "rm": w.rm_b2, "branch": w.b2, "aum_latest": Decimal("1500000.00"),
                 "tags": ["VIP"]},
    }
    for key, spec in specs.items():
        customer = CustomerFactory(**spec)
        w.customers[key] = customer
        w.snapshots[key] = FinancialSnapshotFactory(customer=customer, period=dt.date(2026, 9, 1))
        w.holdings[key] = HoldingFactory(customer=customer)
        w.interactions[key] = InteractionFactory(customer=customer)
        w.tasks[key] = FollowUpTaskFactory(customer=customer, due_date=dt.date(2030, 1, 1))
    return w


def valid_form(world, **overrides):
    """The customer form's POST data for a valid new individual in world.rm's book."""
    data = {
        "cif": "CIF9000000001", "kind": "individual", "name": "欧阳娜娜", "id_type": "resident_id",
        "id_number": make_resident_id(dt.date(1990, 5, 17), "F", seq=7), "gender": "F",
        "birth_date": "1990-05-17", "mobile": "+86 139 1234 5678", "lifecycle_stage": "growth",
        "branch": world.b1.pk, "rm": world.rm.pk, "tags": "VIP,代发", "risk_level": "C3",
        "risk_assessed_on": "2026-03-01",
    }
    data.update(overrides)
    return data
