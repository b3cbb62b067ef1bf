"""The organisation's part of the demo: the branch tree and the demo staff, through ``org.services``."""

from dataclasses import dataclass, field

import numpy as np
from django.contrib.auth.hashers import make_password

from org.constants import BranchLevel, Role
from org.models import Branch, User
from org.services import branch_create, staff_create

from .names import SURNAMES, person_names

DEMO_PASSWORD = "Demo-Pass-2026"
TABLES = ["org_branch", "org_user"]  # analysed after the load
COPY_TABLES: list[str] = []  # none: the organisation is small and goes through the services
NEXT_IDS: dict[str, str] = {}

# code, name, city prefix of its area codes, outlets (code, name)
BRANCHES = [
    ("BJ", "北京分行", "1101", [("BJ01", "北京朝阳支行"), ("BJ02", "北京海淀支行")]),
    ("SH", "上海分行", "3101", [("SH01", "上海浦东支行"), ("SH02", "上海徐汇支行")]),
    ("SZ", "深圳分行", "4403", [("SZ01", "深圳南山支行"), ("SZ02", "深圳福田支行")]),
    ("HZ", "杭州分行", "3301", [("HZ01", "杭州西湖支行"), ("HZ02", "杭州滨江支行")]),
    ("GZ", "广州分行", "4401", [("GZ01", "广州天河支行"), ("GZ02", "广州越秀支行")]),
    ("CD", "成都分行", "5101", [("CD01", "成都武侯支行"), ("CD02", "成都锦江支行")]),
]


@dataclass
class OrgPlan:
    rm_ids: np.ndarray            # user ids of the relationship managers
    rm_nodes: np.ndarray          # (n_rm, 3): the RM's branch and its two outlets (branch id repeated if fewer)
    rm_city: np.ndarray           # index into BRANCHES of the RM's branch
    rm_weight: np.ndarray         # share of customers per RM
    logins: dict = field(default_factory=dict)


def _staff_spec(n_rms: int):
    """(username, role, branch code) of every demo login, in creation order."""
    b = [code for code, *_ in BRANCHES]
    spec = [("hq", Role.HEAD_OFFICE, "HO")]
    for i, code in enumerate(b, start=1):
        spec.append((f"sup{i}", Role.SUPERVISOR, code))
        spec.append((f"officer{i}", Role.COMPLAINT_OFFICER, code))
    spec += [("rm1", Role.RM, b[0]), ("rm2", Role.RM, b[0]), ("rm3", Role.RM, b[1])]
    for k in range(4, n_rms + 1):
        spec.append((f"rm{k}", Role.RM, b[(k - 4 + 2) % len(b)]))
    # a second head-office login, last so the others keep their names: four eyes on segmentation policies
    spec.append(("hq2", Role.HEAD_OFFICE, "HO"))
    return spec


def org_ensure(*, seed: int, n_rms: int, log=print) -> OrgPlan:
    """Create the branch tree and the demo staff (only what is missing); return the RM plan."""
    rng = np.random.default_rng([seed, 7])
    by_code = {b.code: b for b in Branch.objects.all()}
    created_branches = 0
    if "HO" not in by_code:
        by_code["HO"] = branch_create(code="HO", name="总行", level=BranchLevel.HEAD_OFFICE)
        created_branches += 1
    for code, name, _city, outlets in BRANCHES:
        if code not in by_code:
            by_code[code] = branch_create(code=code, name=name, level=BranchLevel.BRANCH, parent=by_code["HO"])
            created_branches += 1
        for ocode, oname in outlets:
            if ocode not in by_code:
                by_code[ocode] = branch_create(code=ocode, name=oname, level=BranchLevel.OUTLET,
                                               parent=by_code[code])
                created_branches += 1

    spec = _staff_spec(n_rms)
    male = rng.random(len(spec)) < 0.5
    names = person_names(rng, male)
    existing = {u.username: u for u in User.objects.filter(username__in=[s[0] for s in spec])}
    created = []
    for (username, role, bcode), full_name in zip(spec, names):
        if username in existing:
            continue
        sur_len = 2 if full_name[:2] in SURNAMES else 1
        user = staff_create(username=username, password=None, role=role, branch=by_code[bcode],
                            last_name=full_name[:sur_len], first_name=full_name[sur_len:],
                            email=f"{username}@bank.example")
        existing[username] = user
        created.append(user.pk)
    if created:  # one hash for everyone: PBKDF2 is slow by design, and every demo login has the same password
        User.objects.filter(pk__in=created).update(password=make_password(DEMO_PASSWORD))
    log(f"organisation: {created_branches} branches and {len(created)} staff created "
        f"({len(by_code)} branches, {len(existing)} demo logins in total)")

    rms = [existing[u] for u, role, _ in spec if role == Role.RM]
    city_index = {code: i for i, (code, *_r) in enumerate(BRANCHES)}
    nodes, cities = [], []
    for rm in rms:
        branch = rm.branch
        kids = sorted(c.pk for c in branch.children.all()) if branch.level != BranchLevel.OUTLET else []
        row = [branch.pk] + (kids + [branch.pk, branch.pk])[:2]
        nodes.append(row)
        top = branch if branch.level == BranchLevel.BRANCH else branch.parent
        cities.append(city_index.get(top.code if top else "", 0))
    weight = rng.lognormal(0.0, 0.35, size=len(rms))
    return OrgPlan(rm_ids=np.array([r.pk for r in rms]), rm_nodes=np.array(nodes), rm_city=np.array(cities),
                   rm_weight=weight / weight.sum(), logins={u: existing[u].pk for u, *_ in spec})


def prepare(ctx, *, n_rms: int, log) -> None:
    """Make the organisation (only what is missing) and put its RM plan on the context."""
    ctx.org = org_ensure(seed=ctx.seed, n_rms=n_rms, log=log)


def chunk(ctx, index: int, offset: int, n: int, ids: dict) -> list:
    """No per-chunk rows: the organisation is made once by :func:`prepare`."""
    return []
