"""Product holdings of the demo customers: 1–4 each, from real-looking catalogues, with valid account numbers."""

import numpy as np

from core.copy import join_fields
from customers.constants import ProductType

from .columns import fmt_dates, fmt_money, luhn_check_digits
from .lifecycle import TERMINATED

# Product catalogues: (code, name, risk); sorted by risk so "risk ≤ customer level" is a prefix.
CATALOG = {
    ProductType.DEPOSIT: [("D-SAV", "个人活期储蓄", "R1")],
    "corp_deposit": [("D-CORP", "单位活期存款", "R1")],
    ProductType.TIME_DEPOSIT: [("TD-3M", "三个月定期存款", "R1"), ("TD-1Y", "一年期定期存款", "R1"),
                               ("TD-3Y", "三年期定期存款", "R1"), ("LD-20W", "大额存单（20万起）", "R1")],
    ProductType.WEALTH: [("WM-CASH01", "天天利现金管理", "R1"), ("WM-FI30", "稳盈30天固收", "R2"),
                         ("WM-FI90", "稳盈90天固收", "R2"), ("WM-FI180", "安鑫180天固收增强", "R3"),
                         ("WM-MIX365", "睿远一年持有混合类", "R3"), ("WM-EQ01", "智选权益精选", "R4")],
    ProductType.FUND: [("000198", "天弘余额宝货币A", "R1"), ("110017", "易方达增强回报债券A", "R2"),
                       ("000001", "华夏成长混合", "R3"), ("161725", "招商中证白酒指数(LOF)A", "R4"),
                       ("110022", "易方达消费行业股票", "R4"), ("005827", "易方达蓝筹精选混合", "R4"),
                       ("512480", "国联安中证全指半导体ETF", "R5")],
    ProductType.INSURANCE: [("INS-ANN", "年金保险（银保渠道）", "R1"), ("INS-WL", "增额终身寿险", "R2")],
    ProductType.LOAN: [("L-MORT", "个人住房贷款", ""), ("L-CONS", "个人消费贷款", ""), ("L-BIZ", "个人经营贷款", "")],
    "corp_loan": [("L-WC", "流动资金贷款", ""), ("L-FA", "固定资产贷款", "")],
    ProductType.CREDIT_CARD: [("CC-STD", "标准信用卡", ""), ("CC-GOLD", "金卡", ""), ("CC-PLAT", "白金卡", "")],
}
TERM_DAYS = {"TD-3M": 91, "TD-1Y": 365, "TD-3Y": 1095, "LD-20W": 1095, "WM-FI30": 30, "WM-FI90": 90,
             "WM-FI180": 180, "WM-MIX365": 365}
# holding types in priority order (at most 4 per customer are kept)
HOLDING_TYPES = [ProductType.DEPOSIT, ProductType.LOAN, ProductType.WEALTH, ProductType.FUND,
                 ProductType.CREDIT_CARD, ProductType.TIME_DEPOSIT, ProductType.INSURANCE]
HOLDING_COLUMNS = ["id", "customer_id", "account_no", "product_code", "product_name", "product_type",
                   "product_risk", "balance", "opened_on", "matures_on", "status"]


def holding_rows(ctx, rng, ids, cid, corp, risk, stage, h_cust, h_type, dep_c, wealth_c, funds_c, loans_c, limit_c,
                 used_c, has_td, created_s, today_day):
    """COPY rows of the holdings ``(h_cust, h_type)`` (index into the chunk, index into HOLDING_TYPES)."""
    m = len(h_cust)
    hid = np.arange(ids["holding"], ids["holding"] + m, dtype=np.int64)
    ids["holding"] += m
    level = np.maximum(risk[h_cust], 1)  # no assessment: R1 products only
    code = np.empty(m, dtype=object)
    pname = np.empty(m, dtype=object)
    prisk = np.empty(m, dtype=object)
    balance = np.zeros(m, dtype=np.int64)
    acct = np.empty(m, dtype=object)
    mature = np.full(m, -1, dtype=np.int64)
    created_day = created_s[h_cust] // 86400
    opened = created_day + (rng.random(m) * np.maximum(today_day - created_day, 1)).astype(np.int64)
    u = rng.random(m)
    c10 = np.char.zfill(cid[h_cust].astype(str), 10).astype(object)
    r4 = np.char.zfill(rng.integers(0, 10_000, m).astype(str), 4).astype(object)
    td_dep = np.round(dep_c * 0.6).astype(np.int64)  # a time deposit holds part of the deposits
    # balance source and account prefix of the products whose number is prefix + customer + 4 random digits
    plain = {ProductType.TIME_DEPOSIT: (td_dep, "3100"), ProductType.WEALTH: (wealth_c, "8800"),
             ProductType.FUND: (funds_c, "66"), ProductType.LOAN: (loans_c, "7200")}
    for t, ptype in enumerate(HOLDING_TYPES):
        sel = h_type == t
        if not sel.any():
            continue
        cust = h_cust[sel]
        key = ptype
        if ptype == ProductType.DEPOSIT:
            catpick = np.where(corp[cust], 1, 0)
            cat = CATALOG[ProductType.DEPOSIT] + CATALOG["corp_deposit"]
        elif ptype == ProductType.LOAN:
            cat = CATALOG[ProductType.LOAN] + CATALOG["corp_loan"]
            catpick = np.where(corp[cust], 3 + (u[sel] * 2).astype(int), (u[sel] * 3).astype(int))
        elif ptype == ProductType.CREDIT_CARD:
            cat = CATALOG[key]
            catpick = np.digitize(limit_c[cust], [50_000 * 100, 100_000 * 100])
        else:
            cat = CATALOG[key]
            allowed = np.array([sum(1 for c in cat if c[2] <= f"R{lv}") for lv in range(6)])
            catpick = (u[sel] * np.maximum(allowed[level[sel]], 1)).astype(int)
        cat_arr = np.asarray(cat, dtype=object)
        code[sel], pname[sel], prisk[sel] = cat_arr[catpick, 0], cat_arr[catpick, 1], cat_arr[catpick, 2]
        if ptype == ProductType.DEPOSIT:
            balance[sel] = np.where(has_td[cust], dep_c[cust] - td_dep[cust], dep_c[cust])
            body = ("621700" + c10[sel] + "0" + np.char.mod("%d", (u[sel] * 10).astype(int)).astype(object))
            acct[sel] = body + luhn_check_digits(body.tolist(), 18).astype(str).astype(object)  # 19 digits
        elif ptype in plain:
            amounts, prefix = plain[ptype]
            balance[sel] = amounts[cust]
            acct[sel] = prefix + c10[sel] + r4[sel]  # 16 digits for a fund, 18 for the others
        elif ptype == ProductType.CREDIT_CARD:
            balance[sel] = used_c[cust]
            body = "6259" + c10[sel] + np.char.mod("%d", (u[sel] * 10).astype(int)).astype(object)
            acct[sel] = body + luhn_check_digits(body.tolist(), 15).astype(str).astype(object)  # 16
        elif ptype == ProductType.INSURANCE:
            balance[sel] = np.round(rng.lognormal(np.log(50_000), 0.8, int(sel.sum())) * 100).astype(np.int64)
            acct[sel] = "9100" + c10[sel] + r4[sel]  # 18
        terms = np.array([TERM_DAYS.get(c, 0) for c in code[sel].tolist()])
        if terms.any():
            # fixed-term products: opened within the last term, so they mature in the future
            o = today_day - (u[sel] * np.maximum(terms, 1)).astype(np.int64)
            opened[sel] = np.where(terms > 0, np.maximum(o, created_day[sel]), opened[sel])
            mature[sel] = np.where(terms > 0, opened[sel] + terms, -1)
    status = np.where(stage[h_cust] == TERMINATED, "closed", "active")
    cols = [hid.tolist(), cid[h_cust].tolist(), acct.tolist(), code.tolist(), pname.tolist(),
            np.asarray([t.value for t in HOLDING_TYPES], dtype=object)[h_type].tolist(), prisk.tolist(),
            fmt_money(balance), fmt_dates(np.minimum(opened, today_day)),
            fmt_dates(np.maximum(mature, 0), mature < 0), status.tolist()]
    return ("customers_holding", HOLDING_COLUMNS, join_fields(cols), m)

