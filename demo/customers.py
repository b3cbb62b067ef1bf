"""The customers app's part of the demo: customers with their monthly snapshots, holdings, interactions and tasks."""

from datetime import date

import numpy as np

from core.copy import join_fields, pg_array
from customers import rules
from customers.constants import CompanySize, CustomerKind, IdType, IncomeBand

from .columns import fmt_dates, fmt_money, fmt_ts, id_check_chars, org_code_check, pick
from .context import Chunk, Context
from .holdings import holding_rows
from .interactions import interaction_rows
from .lifecycle import DEVELOPMENT, MATURITY, PROSPECT, STAGE_DRIFT, STAGE_P, STAGE_TXN, STAGES, TERMINATED
from .names import AREAS, person_names
from .org import BRANCHES

COPY_TABLES = ["customers_customer", "customers_financialsnapshot", "customers_holding", "customers_interaction",
               "customers_followuptask"]  # loaded by COPY: their id sequences are set after the load
TABLES = COPY_TABLES  # analysed after the load
NEXT_IDS = {"customer": "customers_customer", "holding": "customers_holding",
            "interaction": "customers_interaction", "task": "customers_followuptask"}  # ids continue after max(id)

COMPANY_CHARS = list("华信达通恒泰瑞丰盛宏鑫源安康博创新宇天成金海正兴隆永嘉德佳合利中远富民益众联发东方明星光辉润")
INDUSTRIES = [
    ("科技", "信息传输、软件和信息技术服务业"), ("软件", "信息传输、软件和信息技术服务业"),
    ("贸易", "批发和零售业"), ("商贸", "批发和零售业"), ("建筑工程", "建筑业"), ("餐饮管理", "住宿和餐饮业"),
    ("物流", "交通运输、仓储和邮政业"), ("机械制造", "制造业"), ("电子", "制造业"), ("医疗器械", "制造业"),
    ("食品", "制造业"), ("服装", "制造业"), ("医药", "制造业"), ("新能源", "电力、热力、燃气及水生产和供应业"),
    ("文化传媒", "文化、体育和娱乐业"), ("房地产开发", "房地产业"), ("企业管理咨询", "租赁和商务服务业"),
    ("农业发展", "农、林、牧、渔业"), ("教育科技", "教育"), ("环保工程", "水利、环境和公共设施管理业"),
]
COMPANY_SUFFIXES = ["有限公司", "股份有限公司", "有限责任公司"]
COMPANY_SUFFIX_P = [0.8, 0.1, 0.1]
OCCUPATIONS = ["企业职员", "教师", "医生", "工程师", "公务员", "个体工商户", "私营业主", "自由职业", "销售", "会计",
               "律师", "IT从业者", "司机", "金融从业者", "护士", "农民", "军人", "设计师"]
ROADS = ["人民路", "建设路", "中山路", "解放路", "和平路", "新华路", "长江路", "黄河路", "文化路", "胜利路",
         "青年路", "滨江大道", "科技园路", "学院路", "朝阳路", "幸福路", "光明路", "东风路"]
MOBILE_PREFIXES = ["130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
                   "153", "155", "156", "157", "158", "159", "166", "173", "175", "176", "177", "178", "180",
                   "181", "182", "183", "184", "185", "186", "187", "188", "189", "191", "195", "198", "199"]
EMAIL_DOMAINS = ["qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "139.com"]

RISK_LEVELS = ["", "C1", "C2", "C3", "C4", "C5"]
INCOME_BANDS = [IncomeBand.UNDER_50K, IncomeBand.FROM_50K, IncomeBand.FROM_150K, IncomeBand.FROM_500K,
                IncomeBand.OVER_1M]
SIZES = [CompanySize.MICRO, CompanySize.SMALL, CompanySize.MEDIUM, CompanySize.LARGE]
SIZE_P = [0.40, 0.35, 0.20, 0.05]
SIZE_AUM = np.array([30_000, 120_000, 500_000, 2_500_000])  # median AUM by company size

TAGS = ["代发工资", "房贷客户", "理财偏好", "基金定投", "养老金客户", "私行潜客", "高净值", "商户", "新市民",
        "老年客户"]

CUSTOMER_COLUMNS = [
    "id", "cif", "kind", "name", "name_bigrams", "gender", "birth_date", "id_type", "id_number", "occupation",
    "income_band", "credit_code", "industry", "company_size", "legal_representative", "contact_person", "mobile",
    "email", "address", "consent_sms", "consent_email", "consent_phone", "consent_app", "do_not_contact",
    "lunar_birthday", "risk_level", "risk_assessed_on", "lifecycle_stage", "tags", "notes", "aum_latest", "last_txn_date",
    "created_at", "updated_at", "branch_id", "rm_id",
]
SNAPSHOT_COLUMNS = [
    "customer_id", "period", "aum", "aum_avg", "deposits", "wealth", "funds", "loans", "credit_limit",
    "credit_used", "txn_count", "last_txn_date", "fee_income", "contribution", "products_held",
    "loan_interest",
]


def generate_chunk(ctx: Context, index: int, first_id: int, n: int, ids: dict) -> Chunk:
    """Customers ``first_id … first_id+n-1`` and their snapshots, holdings, interactions and tasks.

    ``ids`` holds the next free id of holdings/interactions/tasks and is advanced in place.
    """
    rng = np.random.default_rng([ctx.seed, 1, index])
    org = ctx.org
    today_day = (ctx.today - date(1970, 1, 1)).days
    cid = np.arange(first_id, first_id + n, dtype=np.int64)

    # --- assignment ---
    rm_idx = rng.choice(len(org.rm_ids), size=n, p=org.rm_weight)
    node = rng.choice(3, size=n, p=[0.3, 0.35, 0.35])
    rm_id = org.rm_ids[rm_idx]
    branch_id = org.rm_nodes[rm_idx, node]
    city = org.rm_city[rm_idx]

    corp = rng.random(n) < 0.10
    ind = ~corp
    n_corp = int(corp.sum())

    # --- where they live: a district of the branch's city ---
    home_area = np.empty(n, dtype=np.int64)
    for c in np.unique(city):
        sel = city == c
        home_area[sel] = rng.choice(ctx.city_areas[c], size=int(sel.sum()))
    addr = (ctx.area_names[home_area] + np.asarray(ROADS, dtype=object)[rng.integers(0, len(ROADS), n)]
            + rng.integers(1, 999, n).astype(str).astype(object) + "号")
    flat = rng.random(n) < 0.8
    addr = np.where(ind & flat, addr + rng.integers(1, 30, n).astype(str).astype(object) + "栋"
                    + rng.integers(101, 2899, n).astype(str).astype(object) + "室", addr)

    # --- lifecycle and money (AUM in yuan, heavy-tailed) ---
    stage = rng.choice(6, size=n, p=STAGE_P)
    size_idx = rng.choice(4, size=n, p=SIZE_P)
    # lognormal: individuals σ=1.5 (median ≈ ¥30k); overall the top 20 % hold ≈ 80 % of AUM
    aum = np.where(corp, rng.lognormal(np.log(SIZE_AUM[size_idx]), 1.1), rng.lognormal(np.log(30_000), 1.5, n))
    aum = np.where(stage == DEVELOPMENT, aum * 0.5, aum)
    aum = np.where(stage == MATURITY, aum * 1.4, aum)
    aum = np.where(stage == PROSPECT, rng.uniform(0, 5_000, n), aum)
    aum = np.where(stage == TERMINATED, rng.uniform(0, 50, n), aum)

    # --- individuals: gender, birth date, resident ID, names ---
    male = rng.random(n) < 0.49
    age_years = np.clip(rng.normal(44, 15, n), 18, 92)
    birth_day = today_day - (age_years * 365.25).astype(np.int64) - rng.integers(0, 365, n)
    birth_str = np.datetime_as_string(birth_day.astype("datetime64[D]"), unit="D")
    birth_compact = np.char.replace(birth_str, "-", "")
    local_birth = rng.random(n) < 0.55
    id_area = np.where(local_birth, home_area, rng.integers(0, len(AREAS), n))
    seq = rng.integers(0, 50, n) * 2 + np.where(male, 1, 0) + rng.integers(0, 10, n) * 100  # 3 digits, parity = gender
    first17 = [f"{a}{b}{s:03d}" for a, b, s in zip(ctx.area_codes[id_area].tolist(), birth_compact.tolist(),
                                                     seq.tolist())]
    checks = id_check_chars(first17)
    for f17, ch in zip(first17[:50], checks[:50].tolist()):  # the vectorised rule must be the rules' rule
        assert rules.resident_id_check_char(f17) == ch, f17
    id_number = np.array([f + c for f, c in zip(first17, checks.tolist())], dtype=object)
    names = person_names(rng, male)
    age_now = (today_day - birth_day) / 365.25

    occ = np.asarray(OCCUPATIONS, dtype=object)[rng.integers(0, len(OCCUPATIONS), n)]
    occ = np.where((age_now >= 60) & (rng.random(n) < 0.75), "退休", occ)
    occ = np.where((age_now < 23) & (rng.random(n) < 0.6), "学生", occ)
    lg = np.log10(np.maximum(aum, 1.0))
    band = np.clip(((lg - 3.2) / 1.1 + rng.normal(0, 0.7, n)).astype(np.int64), 0, 4)
    income = np.asarray(INCOME_BANDS, dtype=object)[band]

    # --- companies ---
    corp_idx = np.flatnonzero(corp)
    company = np.full(n, "", dtype=object)
    credit_code = np.full(n, "", dtype=object)
    industry = np.full(n, "", dtype=object)
    legal_rep = np.full(n, "", dtype=object)
    contact = np.full(n, "", dtype=object)
    if n_corp:
        ind_i = rng.integers(0, len(INDUSTRIES), n_corp)
        cc = np.asarray(COMPANY_CHARS, dtype=object)
        city_short = np.asarray([AREAS[ctx.city_areas[c][0]][1].rstrip("市") for c in range(len(BRANCHES))],
                                dtype=object)
        company[corp_idx] = (city_short[city[corp_idx]] + cc[rng.integers(0, len(cc), n_corp)]
                             + cc[rng.integers(0, len(cc), n_corp)]
                             + np.asarray([i[0] for i in INDUSTRIES], dtype=object)[ind_i]
                             + pick(rng, COMPANY_SUFFIXES, COMPANY_SUFFIX_P, n_corp))
        industry[corp_idx] = np.asarray([i[1] for i in INDUSTRIES], dtype=object)[ind_i]
        legal_rep[corp_idx] = person_names(rng, rng.random(n_corp) < 0.7)
        contact[corp_idx] = person_names(rng, rng.random(n_corp) < 0.5)
        org_body = [f"{v:08d}" for v in rng.integers(0, 10**8, n_corp).tolist()]
        org_code = [b + c for b, c in zip(org_body, org_code_check(org_body))]
        kind_prefix = np.where(rng.random(n_corp) < 0.93, "91", "92")
        codes17 = [k + a + o for k, a, o in zip(kind_prefix.tolist(), ctx.area_codes[home_area[corp_idx]].tolist(),
                                                org_code)]
        credit_code[corp_idx] = [c + rules.credit_code_check_char(c) for c in codes17]

    name = np.where(corp, company, names)

    # --- contact details and consents ---
    mobile = np.asarray(MOBILE_PREFIXES, dtype=object)[rng.integers(0, len(MOBILE_PREFIXES), n)] + np.char.zfill(
        rng.integers(0, 10**8, n).astype(str), 8).astype(object)
    has_email = rng.random(n) < np.where(corp, 0.6, 0.3)
    email_user = np.where(rng.random(n) < 0.5, rng.integers(10**5, 10**10, n).astype(str),
                          np.char.add("user", rng.integers(1000, 10**7, n).astype(str))).astype(object)
    email = np.where(has_email, email_user + "@"
                     + np.asarray(EMAIL_DOMAINS, dtype=object)[rng.integers(0, len(EMAIL_DOMAINS), n)], "")
    consent = rng.random((n, 4)) < np.array([0.7, 0.3, 0.5, 0.6])
    dnc = rng.random(n) < 0.03

    # --- suitability ---
    risk_p = np.array([0.04, 0.10, 0.24, 0.34, 0.19, 0.09])
    risk = rng.choice(6, size=n, p=risk_p)
    risk = np.where((age_now >= 65) & ind & (risk > 3), rng.integers(1, 4, n), risk)
    risk = np.where(stage == PROSPECT, np.where(rng.random(n) < 0.5, 0, risk), risk)
    assessed = today_day - rng.integers(0, 540, n)

    # --- monthly snapshots: k = months back from the latest (0 = the month of `today`) ---
    M = ctx.months
    k = np.arange(M - 1, -1, -1)                              # oldest → newest
    drift = rng.normal(STAGE_DRIFT[stage, 0], STAGE_DRIFT[stage, 1])
    noise = rng.normal(0, 0.05, (n, M))
    noise[:, -1] = 0
    aum_m = aum[:, None] * np.exp(-drift[:, None] * k[None, :] + noise)
    term = stage == TERMINATED
    base = rng.lognormal(np.log(8_000), 1.2, n)
    aum_m[term] = np.where(k[None, :] == 0, aum[term, None], base[term, None] * (1 - np.exp(-0.7 * k[None, :])))
    aum_c = np.round(aum_m * 100).astype(np.int64)

    p_wealth = np.clip(0.12 + 0.12 * (lg - 4), 0.05, 0.85)
    p_fund = np.clip(0.08 + 0.10 * (lg - 4), 0.03, 0.70)
    has_wealth = (rng.random(n) < p_wealth) & (stage != PROSPECT)
    has_fund = (rng.random(n) < p_fund) & (stage != PROSPECT) & ind
    g = rng.gamma(np.array([3.0, 2.0, 1.5]), size=(n, 3)) * np.stack([np.ones(n), has_wealth, has_fund], axis=1)
    shares = g / g.sum(axis=1, keepdims=True)
    wealth_c = np.floor(aum_c * shares[:, 1:2]).astype(np.int64)
    funds_c = np.floor(aum_c * shares[:, 2:3]).astype(np.int64)
    deposits_c = aum_c - wealth_c - funds_c
    avg_c = np.round(aum_c * np.exp(rng.normal(0, 0.04, (n, M)))).astype(np.int64)

    has_loan = (rng.random(n) < np.where(corp, 0.35, 0.18)) & (stage != PROSPECT) & ~term
    loan_amt = np.where(corp, rng.lognormal(np.log(2_000_000), 1.2, n), rng.lognormal(np.log(400_000), 0.8, n))
    loans_c = np.where(has_loan[:, None], np.round(loan_amt[:, None] * (1 + 0.004 * k[None, :]) * 100), 0).astype(
        np.int64)
    has_card = (rng.random(n) < np.where(corp, 0.10, 0.40)) & ~term
    limits = np.array([10_000, 20_000, 30_000, 50_000, 80_000, 100_000, 200_000])
    lim_i = np.clip((lg - 3.5 + rng.normal(0, 0.8, n)).astype(np.int64) + 2, 0, len(limits) - 1)
    limit_c = np.where(has_card, limits[lim_i] * 100, 0).astype(np.int64)
    used_c = np.round(limit_c[:, None] * rng.beta(1.5, 4.0, (n, M))).astype(np.int64)
    overpaid = (rng.random((n, M)) < 0.01) & (limit_c[:, None] > 0)
    used_c = np.where(overpaid, -rng.integers(100, 50_000, (n, M)), used_c)

    lam = STAGE_TXN[stage] * rng.lognormal(0, 0.6, n) * np.where(corp, 3.0, 1.0)
    txn = rng.poisson(lam[:, None] * np.ones((1, M)) * (ctx.period_len / 30.0)[None, :])
    txn[term, :] = np.where(k[None, :] <= 1, 0, txn[term, :])
    txn_day = ctx.period_days[None, :] + np.floor(rng.random((n, M)) * ctx.period_len[None, :]).astype(np.int64)
    fee_c = np.round((wealth_c + funds_c) * rng.uniform(0.0003, 0.0015, (n, M))
                     + txn * rng.uniform(0, 150, (n, M))).astype(np.int64)
    refund = rng.random((n, M)) < 0.003
    fee_c = np.where(refund, -rng.integers(100, 200_000, (n, M)), fee_c)
    contrib_c = np.round(deposits_c * 0.0012 + loans_c * 0.0018 + fee_c * 0.9 + np.maximum(used_c, 0) * 0.01
                         - 500 + rng.normal(0, 1, (n, M)) * (0.1 * np.abs(deposits_c * 0.0012) + 200)).astype(np.int64)

    # --- holdings (1–4 each) ---
    has_td = (rng.random(n) < np.clip(0.1 + 0.1 * (lg - 4), 0.05, 0.6)) & (stage != PROSPECT)
    has_ins = (rng.random(n) < 0.06) & ind & (stage != PROSPECT)
    present = np.stack([np.ones(n, bool), has_loan, has_wealth, has_fund, has_card, has_td, has_ins], axis=1)
    present &= np.cumsum(present, axis=1) <= 4
    h_cust, h_type = np.nonzero(present)
    products_held = np.where(term, 0, present.sum(axis=1))

    # --- customer-level latest figures ---
    last_txn_m = np.where(txn > 0, txn_day, -1)
    last_txn = last_txn_m.max(axis=1)
    dormant_since = today_day - rng.integers(120, 900, n)
    cust_last_txn = np.where(last_txn >= 0, last_txn, np.where(stage == PROSPECT, -1, dormant_since))
    created_s = ctx.ref_epoch - rng.integers(30 * 86400, 3650 * 86400, n)
    created_s = np.where(stage == PROSPECT, ctx.ref_epoch - rng.integers(86400, 120 * 86400, n), created_s)
    updated_s = created_s + (rng.random(n) * (ctx.ref_epoch - created_s)).astype(np.int64)

    # --- tags ---
    tagm = np.zeros((n, len(TAGS)), bool)
    tagm[:, 0] = ind & (age_now >= 22) & (age_now < 60) & (rng.random(n) < 0.25)
    tagm[:, 1] = has_loan & ind & (rng.random(n) < 0.6)
    tagm[:, 2] = has_wealth & (rng.random(n) < 0.5)
    tagm[:, 3] = has_fund & (rng.random(n) < 0.4)
    tagm[:, 4] = ind & (occ == "退休") & (rng.random(n) < 0.5)
    tagm[:, 5] = (aum >= 3_000_000) & (aum < 6_000_000)
    tagm[:, 6] = aum >= 6_000_000
    tagm[:, 7] = corp & (size_idx <= 1) & (rng.random(n) < 0.5)
    tagm[:, 8] = ind & (age_now < 40) & (rng.random(n) < 0.05)
    tagm[:, 9] = ind & (age_now >= 65)
    tag_names = np.asarray(TAGS, dtype=object)
    tags = list(map(pg_array, (sorted(tag_names[row].tolist()) for row in tagm)))

    # --- customer rows ---
    blank = np.full(n, "", dtype=object)
    null = "\\N"
    ind_l = ind.tolist()
    cust_cols = [
        cid.tolist(),
        [f"CIF{i:010d}" for i in cid.tolist()],
        np.where(corp, CustomerKind.CORPORATE.value, CustomerKind.INDIVIDUAL.value).tolist(),
        name.tolist(),
        list(map(pg_array, (rules.bigrams(x) for x in name.tolist()))),
        np.where(corp, "", np.where(male, "M", "F")).tolist(),
        [b if i else null for b, i in zip(birth_str.tolist(), ind_l)],
        np.where(corp, "", IdType.RESIDENT_ID.value).tolist(),
        np.where(corp, "", id_number).tolist(),
        np.where(corp, "", occ).tolist(),
        np.where(corp, "", income).tolist(),
        credit_code.tolist(),
        industry.tolist(),
        np.where(corp, np.asarray(SIZES, dtype=object)[size_idx], blank).tolist(),
        legal_rep.tolist(),
        contact.tolist(),
        mobile.tolist(),
        email.tolist(),
        addr.tolist(),
        *[np.where(consent[:, j], "t", "f").tolist() for j in range(4)],
        np.where(dnc, "t", "f").tolist(),
        # one individual in twenty celebrates the lunar birthday (by id: the random streams stay as they were)
        np.where(~corp & (cid % 20 == 0), "t", "f").tolist(),
        np.asarray(RISK_LEVELS, dtype=object)[risk].tolist(),
        fmt_dates(assessed, risk == 0),
        np.asarray([s.value for s in STAGES], dtype=object)[stage].tolist(),
        tags,
        blank.tolist(),
        fmt_money(aum_c[:, -1]),
        fmt_dates(np.maximum(cust_last_txn, 0), cust_last_txn < 0),
        fmt_ts(created_s),
        fmt_ts(updated_s),
        branch_id.tolist(),
        rm_id.tolist(),
    ]
    tables = [("customers_customer", CUSTOMER_COLUMNS, join_fields(cust_cols), n)]

    # --- snapshot rows (customer-major, oldest month first) ---
    rows = n * M
    period_str = np.tile(np.asarray([p.isoformat() for p in ctx.periods], dtype=object), n)
    snap_cols = [
        np.repeat(cid, M).tolist(), period_str.tolist(),
        fmt_money(aum_c.ravel()), fmt_money(avg_c.ravel()), fmt_money(deposits_c.ravel()),
        fmt_money(wealth_c.ravel()), fmt_money(funds_c.ravel()), fmt_money(loans_c.ravel()),
        fmt_money(np.repeat(limit_c, M)), fmt_money(used_c.ravel()), txn.ravel().tolist(),
        fmt_dates(np.maximum(last_txn_m, 0).ravel(), (last_txn_m < 0).ravel()),
        fmt_money(fee_c.ravel()), fmt_money(contrib_c.ravel()), np.repeat(products_held, M).tolist(),
        fmt_money(np.round(loans_c.ravel() * 0.0035).astype(np.int64)),  # about 4.2 % a year, a month's share
    ]
    tables.append(("customers_financialsnapshot", SNAPSHOT_COLUMNS, join_fields(snap_cols), rows))

    # --- holding rows ---
    tables.append(holding_rows(ctx, rng, ids, cid, corp, risk, stage, h_cust, h_type, deposits_c[:, -1],
                               wealth_c[:, -1], funds_c[:, -1], loans_c[:, -1], limit_c, used_c[:, -1], has_td,
                               created_s, today_day))

    # --- interactions and tasks ---
    tables.extend(interaction_rows(ctx, rng, ids, cid, rm_id, aum, stage, today_day))
    return Chunk(tables=[t for t in tables if t[3]], customers=n)


def prepare(ctx, *, n_rms: int, log) -> None:
    """Nothing to make up front: customers come in chunks."""


def chunk(ctx: Context, index: int, offset: int, n: int, ids: dict) -> list:
    """The COPY tables of customers ``offset … offset+n-1`` of this run (ids continue from ``ids``)."""
    return generate_chunk(ctx, index, ids["customer"] + offset, n, ids).tables
