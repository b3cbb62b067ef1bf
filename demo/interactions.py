"""Interactions of the demo staff with their customers, and the follow-up tasks that come from them."""

import numpy as np

from core.copy import join_fields
from customers.constants import Channel, InteractionOutcome, TaskStatus

from .columns import fmt_dates, fmt_ts
from .lifecycle import TERMINATED

CHANNELS = [Channel.PHONE, Channel.WECHAT, Channel.SMS, Channel.VISIT, Channel.MEETING, Channel.EMAIL]
CHANNEL_P = [0.35, 0.25, 0.10, 0.10, 0.15, 0.05]
OUTCOMES = [InteractionOutcome.REACHED, InteractionOutcome.NOT_REACHED, InteractionOutcome.INTERESTED,
            InteractionOutcome.DECLINED, InteractionOutcome.DONE, InteractionOutcome.COMPLAINT]
OUTCOME_P = [0.38, 0.15, 0.20, 0.12, 0.13, 0.02]
OUTCOME_NOTES = [
    ["客户对近期理财收益表示满意，暂无新需求。", "例行回访，客户资料已核实更新。", "提醒客户风险测评即将到期。"],
    ["电话无人接听，稍后再联系。", "客户不方便接听，约定改日联系。"],
    ["客户对大额存单感兴趣，约定到网点详谈。", "客户咨询基金定投，已发送产品资料。", "客户有购房计划，关注房贷利率。"],
    ["客户暂无配置需求，婉拒推荐。", "客户表示资金另有安排。"],
    ["已办理定期存款转存。", "客户认购稳健型理财产品。", "已为客户开通手机银行。"],
    ["客户反映网点排队时间过长，已记录并反馈。", "客户对扣费有疑问，已转投诉专员处理。"],
]
FOLLOW_UP_TITLES = ["跟进理财需求", "回访确认办理结果", "再次联系客户", "邀约客户到网点面谈", "发送产品资料并跟进"]
TASK_TITLES = ["理财产品到期提醒", "风险测评已过期，请重新评估", "生日关怀回访", "大额资金流出跟进",
               "信用卡额度调整回访", "季度例行联系"]

INTERACTION_COLUMNS = ["id", "customer_id", "staff_id", "channel", "occurred_at", "outcome", "notes",
                       "next_follow_up", "created_at"]
TASK_COLUMNS = ["id", "customer_id", "assignee_id", "title", "due_date", "status", "outcome", "created_at",
                "completed_at", "source_interaction_id"]


def interaction_rows(ctx, rng, ids, cid, rm_id, aum, stage, today_day):
    """COPY rows of a few interactions per customer (more for richer ones) and the follow-up tasks."""
    n = len(cid)
    lam = 0.12 + 0.4 * (aum >= 300_000) + 0.8 * (aum >= 1_000_000)
    lam = np.where(stage == TERMINATED, 0.02, lam)
    count = np.minimum(rng.poisson(lam), 3)
    cust = np.repeat(np.arange(n), count)
    m = len(cust)
    out = []
    iid = np.arange(ids["interaction"], ids["interaction"] + m, dtype=np.int64)
    ids["interaction"] += m
    if m:
        # working hours, Beijing time, within the last 180 days, all before `today`
        day = ctx.ref_epoch - rng.integers(1, 181, m) * 86400
        at = day + rng.integers(9 * 3600, 18 * 3600, m)  # ref_epoch is local midnight
        chan = rng.choice(len(CHANNELS), size=m, p=CHANNEL_P)
        outc = rng.choice(len(OUTCOMES), size=m, p=OUTCOME_P)
        chan = np.where(outc == 1, 0, chan)  # "not reached" is a phone call
        notes = np.asarray([OUTCOME_NOTES[o][j % len(OUTCOME_NOTES[o])]
                            for o, j in zip(outc.tolist(), rng.integers(0, 6, m).tolist())], dtype=object)
        follow = (rng.random(m) < 0.3) & (outc != 1)
        follow_day = at // 86400 + rng.integers(7, 46, m)
        created = np.minimum(at + rng.integers(60, 7200, m), ctx.ref_epoch - 1)
        cols = [iid.tolist(), cid[cust].tolist(), rm_id[cust].tolist(),
                np.asarray([c.value for c in CHANNELS], dtype=object)[chan].tolist(), fmt_ts(at),
                np.asarray([o.value for o in OUTCOMES], dtype=object)[outc].tolist(), notes.tolist(),
                fmt_dates(follow_day, ~follow), fmt_ts(created)]
        out.append(("customers_interaction", INTERACTION_COLUMNS, join_fields(cols), m))
    else:
        follow = np.zeros(0, bool)
        follow_day = at = created = np.zeros(0, np.int64)

    # tasks: one per follow-up date (done if long past), plus a few standalone reminders
    f_idx = np.flatnonzero(follow)
    standalone = np.flatnonzero((rng.random(n) < 0.02) & (stage != TERMINATED))
    t_cust = np.concatenate([cust[f_idx], standalone])
    t = len(t_cust)
    if t:
        tid = np.arange(ids["task"], ids["task"] + t, dtype=np.int64)
        ids["task"] += t
        due = np.concatenate([follow_day[f_idx], today_day + rng.integers(-10, 31, len(standalone))])
        titles = np.concatenate([
            np.asarray(FOLLOW_UP_TITLES, dtype=object)[rng.integers(0, len(FOLLOW_UP_TITLES), len(f_idx))],
            np.asarray(TASK_TITLES, dtype=object)[rng.integers(0, len(TASK_TITLES), len(standalone))]])
        t_created = np.concatenate([created[f_idx],
                                    ctx.ref_epoch - rng.integers(86400, 30 * 86400, len(standalone))])
        done = due < today_day - 10
        completed = np.minimum((due + rng.integers(0, 4, t)) * 86400 + 10 * 3600, ctx.ref_epoch - 1)
        src = np.concatenate([iid[f_idx], np.full(len(standalone), -1)])
        cols = [tid.tolist(), cid[t_cust].tolist(), rm_id[t_cust].tolist(), titles.tolist(), fmt_dates(due),
                np.where(done, TaskStatus.DONE.value, TaskStatus.OPEN.value).tolist(),
                np.where(done, "已完成回访", "").tolist(),
                fmt_ts(t_created),
                [c if d else "\\N" for c, d in zip(fmt_ts(completed), done.tolist())],
                [str(s) if s >= 0 else "\\N" for s in src.tolist()]]
        out.append(("customers_followuptask", TASK_COLUMNS, join_fields(cols), t))
    return out

