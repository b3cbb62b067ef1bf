"""Demo and benchmark data: a realistic bank, generated column-wise and loaded with COPY.

``seed(customers=N, seed=S, months=M, today=D)`` builds

- the organisation through ``org.services``: head office (HO) → branches → two outlets each,
  relationship managers, supervisors, complaint officers and a head-office admin, all with the one
  demo password :data:`DEMO_PASSWORD`;
- N customers (≈90 % individuals, ≈10 % companies) with checksum-valid resident IDs (real county codes,
  birth date and gender agreeing with the number) or unified social credit codes, valid mobiles,
  heavy-tailed AUM (lognormal: the top 20 % hold ≈80 %), lifecycle stage, risk level, consents and tags;
- M monthly financial snapshots per customer ending at the month of ``today``, 1–4 product holdings,
  a few interactions and follow-up tasks.

Generation is vectorised with numpy in chunks of ``chunk_size`` customers; each chunk is turned into
COPY text and loaded by a writer thread on its own connection, so Python generates chunk k+1 while
PostgreSQL ingests chunk k (two cores busy). Everything is written in one transaction: a failed run
leaves no half-seeded bank behind. Identical arguments (including ``today``) give identical data.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone

import numpy as np
import psycopg2
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction

from core.copy import copy_data, join_fields, pg_array
from org.constants import BranchLevel, Role
from org.models import Branch, User
from org.services import branch_create, staff_create

from . import rules
from .constants import (
    Channel,
    CompanySize,
    CustomerKind,
    IdType,
    IncomeBand,
    InteractionOutcome,
    LifecycleStage,
    ProductType,
    TaskStatus,
)

DEMO_PASSWORD = "Demo-Pass-2026"
CHUNK_SIZE = 50_000
ADVISORY_LOCK_KEY = 0x5EED_DE30  # serialises concurrent seed runs (e.g. two `run` starts)
CHINA_TZ = dt_timezone(timedelta(hours=8))

# --------------------------------------------------------------------------------------------------
# Reference tables
# --------------------------------------------------------------------------------------------------

# Genuine county-level administrative division codes (GB/T 2260): code, city, district.
AREAS = [
    ("110101", "北京市", "东城区"), ("110102", "北京市", "西城区"), ("110105", "北京市", "朝阳区"),
    ("110106", "北京市", "丰台区"), ("110108", "北京市", "海淀区"), ("110114", "北京市", "昌平区"),
    ("310101", "上海市", "黄浦区"), ("310104", "上海市", "徐汇区"), ("310105", "上海市", "长宁区"),
    ("310106", "上海市", "静安区"), ("310107", "上海市", "普陀区"), ("310110", "上海市", "杨浦区"),
    ("310112", "上海市", "闵行区"), ("310115", "上海市", "浦东新区"),
    ("440303", "深圳市", "罗湖区"), ("440304", "深圳市", "福田区"), ("440305", "深圳市", "南山区"),
    ("440306", "深圳市", "宝安区"), ("440307", "深圳市", "龙岗区"),
    ("330102", "杭州市", "上城区"), ("330105", "杭州市", "拱墅区"), ("330106", "杭州市", "西湖区"),
    ("330108", "杭州市", "滨江区"), ("330109", "杭州市", "萧山区"), ("330110", "杭州市", "余杭区"),
    ("440103", "广州市", "荔湾区"), ("440104", "广州市", "越秀区"), ("440105", "广州市", "海珠区"),
    ("440106", "广州市", "天河区"), ("440111", "广州市", "白云区"), ("440113", "广州市", "番禺区"),
    ("510104", "成都市", "锦江区"), ("510105", "成都市", "青羊区"), ("510106", "成都市", "金牛区"),
    ("510107", "成都市", "武侯区"), ("510108", "成都市", "成华区"),
    ("320102", "南京市", "玄武区"), ("320104", "南京市", "秦淮区"), ("320105", "南京市", "建邺区"),
    ("320106", "南京市", "鼓楼区"),
    ("420102", "武汉市", "江岸区"), ("420106", "武汉市", "武昌区"), ("420111", "武汉市", "洪山区"),
    ("610103", "西安市", "碑林区"), ("610113", "西安市", "雁塔区"),
    ("120101", "天津市", "和平区"), ("120103", "天津市", "河西区"),
    ("500103", "重庆市", "渝中区"), ("500106", "重庆市", "沙坪坝区"),
    ("370202", "青岛市", "市南区"), ("370212", "青岛市", "崂山区"),
    ("350203", "厦门市", "思明区"), ("350206", "厦门市", "湖里区"),
    ("430104", "长沙市", "岳麓区"), ("410105", "郑州市", "金水区"), ("210102", "沈阳市", "和平区"),
    ("230103", "哈尔滨市", "南岗区"), ("530102", "昆明市", "五华区"),
]

# code, name, city prefix of its area codes, outlets (code, name)
BRANCHES = [
    ("BJ", "北京分行", "1101", [("BJ01", "北京朝阳支行"), ("BJ02", "北京海淀支行")]),
    ("SH", "上海分行", "3101", [("SH01", "上海浦东支行"), ("SH02", "上海徐汇支行")]),
    ("SZ", "深圳分行", "4403", [("SZ01", "深圳南山支行"), ("SZ02", "深圳福田支行")]),
    ("HZ", "杭州分行", "3301", [("HZ01", "杭州西湖支行"), ("HZ02", "杭州滨江支行")]),
    ("GZ", "广州分行", "4401", [("GZ01", "广州天河支行"), ("GZ02", "广州越秀支行")]),
    ("CD", "成都分行", "5101", [("CD01", "成都武侯支行"), ("CD02", "成都锦江支行")]),
]

# Surnames with their approximate share of the population (per cent).
_SURNAMES = (
    "王7.1 李7.0 张6.7 刘5.4 陈4.5 杨3.1 黄2.6 赵2.3 吴2.0 周1.9 徐1.6 孙1.5 马1.5 朱1.3 胡1.3 郭1.2 何1.2 "
    "林1.1 高1.1 罗1.0 郑0.9 梁0.9 谢0.8 宋0.7 唐0.7 许0.6 韩0.6 邓0.6 冯0.6 曹0.5 彭0.5 曾0.5 肖0.5 田0.5 "
    "董0.5 潘0.4 袁0.4 蔡0.4 蒋0.4 余0.4 于0.4 杜0.4 叶0.4 程0.4 魏0.3 苏0.3 吕0.3 丁0.3 任0.3 卢0.3 姚0.3 "
    "沈0.3 钟0.3 姜0.3 崔0.3 谭0.3 陆0.3 范0.2 汪0.2 廖0.2 石0.2 金0.2 韦0.2 贾0.2 夏0.2 付0.2 方0.2 邹0.2 "
    "熊0.2 白0.2 孟0.2 秦0.2 邱0.2 侯0.2 江0.2 尹0.2 薛0.2 闫0.2 段0.2 雷0.2 龙0.1 黎0.1 史0.1 陶0.1 贺0.1 "
    "毛0.1 郝0.1 顾0.1 龚0.1 邵0.1 万0.1 覃0.1 武0.1 钱0.1 戴0.1 严0.1 莫0.1 孔0.1 向0.1 常0.1 "
    "欧阳0.05 司马0.01 诸葛0.01 上官0.01 慕容0.005"
)
SURNAMES = [s.rstrip("0123456789.") for s in _SURNAMES.split()]
SURNAME_P = np.array([float(s[len(n):]) for s, n in zip(_SURNAMES.split(), SURNAMES)])
SURNAME_P = SURNAME_P / SURNAME_P.sum()

# Given-name characters, most common first (drawn with a gentle Zipf law, so common names such as
# 王芳 or 张伟 repeat a few hundred times per million customers, a little more than in real life).
MALE_CHARS = list(dict.fromkeys(
    "伟强磊军洋勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林阳建亮成峰志国文博轩睿哲晨泽子豪然"
    "天翔海东晓振家庆宏兴德鸿嘉毅雷彬锋春永忠立新顺康胜利荣光耀达安福祥瑞君昊翰铭宸逸辰皓航远清卓"
    "承恒诚聪润烨晖鸣涵朗岩松柏山川江河源卫兵坤扬腾炜煜晟"))
FEMALE_CHARS = list(dict.fromkeys(
    "芳娜敏静丽艳娟霞秀英慧巧美娅玲桂兰萍红燕琳雪梅婷倩颖洁琴云莉妍欣怡佳悦思涵彤璐晶薇梦瑶晓雅丹蓉"
    "月凤婉淑蕾茜菲露瑾瑜琪璇婧媛嫣娴珊珍珠翠碧琼蓓蕊萱蔚茹莹芸菁岚霏雯霖馨语诗梓若依可嘉宁安乐心如意"))
SINGLE_GIVEN_NAME = 0.2  # share of one-character given names (张伟 rather than 张伟明)


def _zipf(n, s=0.6):
    p = 1.0 / np.arange(1, n + 1) ** s
    return p / p.sum()


MALE_P, FEMALE_P = _zipf(len(MALE_CHARS)), _zipf(len(FEMALE_CHARS))

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

STAGES = [LifecycleStage.PROSPECT, LifecycleStage.DEVELOPMENT, LifecycleStage.GROWTH, LifecycleStage.MATURITY,
          LifecycleStage.DECLINE, LifecycleStage.TERMINATED]
STAGE_P = [0.05, 0.15, 0.22, 0.40, 0.12, 0.06]
# monthly AUM drift (log) per stage: mean, sd
STAGE_DRIFT = np.array([(0.0, 0.02), (0.04, 0.03), (0.06, 0.03), (0.0, 0.015), (-0.07, 0.03), (0.0, 0.0)])
STAGE_TXN = np.array([1.0, 6.0, 12.0, 15.0, 4.0, 0.0])
PROSPECT, DEVELOPMENT, GROWTH, MATURITY, DECLINE, TERMINATED = range(6)

RISK_LEVELS = ["", "C1", "C2", "C3", "C4", "C5"]
INCOME_BANDS = [IncomeBand.UNDER_50K, IncomeBand.FROM_50K, IncomeBand.FROM_150K, IncomeBand.FROM_500K,
                IncomeBand.OVER_1M]
SIZES = [CompanySize.MICRO, CompanySize.SMALL, CompanySize.MEDIUM, CompanySize.LARGE]
SIZE_P = [0.40, 0.35, 0.20, 0.05]
SIZE_AUM = np.array([30_000, 120_000, 500_000, 2_500_000])  # median AUM by company size

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

TAGS = ["代发工资", "房贷客户", "理财偏好", "基金定投", "养老金客户", "私行潜客", "高净值", "商户", "新市民",
        "老年客户"]

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


# --------------------------------------------------------------------------------------------------
# Small vectorised helpers
# --------------------------------------------------------------------------------------------------

_ID_W = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = np.array(list("10X98765432"))
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_ORG_W = np.array([3, 7, 9, 10, 5, 8, 4, 2])


def _digits(strings: list[str], width: int) -> np.ndarray:
    """Equal-length digit strings → (n, width) int matrix."""
    if not strings:
        return np.zeros((0, width), dtype=np.int64)
    return (np.frombuffer("".join(strings).encode("ascii"), dtype=np.uint8).reshape(-1, width) - 48).astype(np.int64)


def id_check_chars(first17: list[str]) -> np.ndarray:
    """GB 11643 check characters for many 17-digit prefixes at once (same rule as rules.resident_id_check_char)."""
    return _ID_CHECK[(_digits(first17, 17) @ _ID_W) % 11]


def luhn_check_digits(numbers: list[str], width: int) -> np.ndarray:
    """Luhn check digits (bank-card numbers) for many digit strings of one width."""
    d = _digits(numbers, width)[:, ::-1]  # rightmost digit first; it is doubled
    dbl = d[:, 0::2] * 2
    total = (dbl // 10 + dbl % 10).sum(axis=1) + d[:, 1::2].sum(axis=1)
    return (10 - total % 10) % 10


def _org_code_check(first8: list[str]) -> list[str]:
    """GB 11714 organisation-code check character (digits-only bodies)."""
    c = 11 - (_digits(first8, 8) @ _ORG_W) % 11
    return ["X" if v == 10 else "0" if v == 11 else str(v) for v in c.tolist()]


def _fmt_money(cents: np.ndarray) -> list[str]:
    """Integer cents → '1234.56' (exact: cents/100 as a float always rounds back to the same 2 decimals)."""
    return list(map("%.2f".__mod__, (cents / 100.0).tolist()))


def _fmt_dates(days: np.ndarray, null_mask: np.ndarray | None = None) -> list[str]:
    out = np.datetime_as_string(days.astype("datetime64[D]"), unit="D").astype(object)
    if null_mask is not None:
        out[null_mask] = "\\N"
    return out.tolist()


def _fmt_ts(epoch_s: np.ndarray) -> list[str]:
    s = np.datetime_as_string(epoch_s.astype("datetime64[s]"), unit="s").astype(object)
    return (s + "+00").tolist()


def _pick(rng, options, p, n):
    return np.asarray(options, dtype=object)[rng.choice(len(options), size=n, p=p)]


def person_names(rng, male: np.ndarray) -> np.ndarray:
    """Chinese full names: surname by frequency, one or two given-name characters by gender."""
    n = len(male)
    sur = np.asarray(SURNAMES, dtype=object)[rng.choice(len(SURNAMES), size=n, p=SURNAME_P)]
    mc, fc = np.asarray(MALE_CHARS, dtype=object), np.asarray(FEMALE_CHARS, dtype=object)
    g1 = np.where(male, mc[rng.choice(len(mc), size=n, p=MALE_P)], fc[rng.choice(len(fc), size=n, p=FEMALE_P)])
    g2 = np.where(male, mc[rng.choice(len(mc), size=n, p=MALE_P)], fc[rng.choice(len(fc), size=n, p=FEMALE_P)])
    two = rng.random(n) >= SINGLE_GIVEN_NAME
    return sur + g1 + np.where(two, g2, "")


# --------------------------------------------------------------------------------------------------
# Organisation
# --------------------------------------------------------------------------------------------------

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
    if created:  # one hash for everyone: PBKDF2 per user would cost ~0.3 s each
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


# --------------------------------------------------------------------------------------------------
# One chunk of customers and everything hanging off them
# --------------------------------------------------------------------------------------------------

@dataclass
class Context:
    seed: int
    months: int
    today: date
    org: OrgPlan
    ref_epoch: int                # local midnight starting `today`, in epoch seconds: every timestamp is before it
    periods: list[date]           # first day of each month, oldest first
    period_days: np.ndarray       # epoch day of each period's first day
    period_len: np.ndarray        # days of each period up to `today` (the current month is partial)
    area_codes: np.ndarray = field(default_factory=lambda: np.array([a[0] for a in AREAS]))
    area_names: np.ndarray = field(default_factory=lambda: np.array([a[1] + a[2] for a in AREAS], dtype=object))
    city_areas: list = field(default_factory=lambda: [np.array([i for i, a in enumerate(AREAS)
                                                                if a[0].startswith(b[2])]) for b in BRANCHES])


def make_context(*, seed: int, months: int, today: date, org: OrgPlan) -> Context:
    periods = []
    y, m = today.year, today.month
    for _ in range(months):
        periods.append(date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    periods.reverse()
    epoch = date(1970, 1, 1)
    lengths = []
    for p in periods:
        nxt = date(p.year + (p.month == 12), p.month % 12 + 1, 1)
        lengths.append((min(nxt - timedelta(days=1), today) - p).days + 1)
    ref = datetime(today.year, today.month, today.day, tzinfo=CHINA_TZ)
    return Context(seed=seed, months=months, today=today, org=org, ref_epoch=int(ref.timestamp()),
                   periods=periods, period_days=np.array([(p - epoch).days for p in periods]),
                   period_len=np.array(lengths))


@dataclass
class Chunk:
    tables: list                   # (table, columns, text, rows)
    customers: int


CUSTOMER_COLUMNS = [
    "id", "cif", "kind", "name", "name_bigrams", "gender", "birth_date", "id_type", "id_number", "occupation",
    "income_band", "credit_code", "industry", "company_size", "legal_representative", "contact_person", "mobile",
    "email", "address", "consent_sms", "consent_email", "consent_phone", "consent_app", "do_not_contact",
    "risk_level", "risk_assessed_on", "lifecycle_stage", "tags", "notes", "aum_latest", "last_txn_date",
    "created_at", "updated_at", "branch_id", "rm_id",
]
SNAPSHOT_COLUMNS = [
    "customer_id", "period", "aum", "aum_avg", "deposits", "wealth", "funds", "loans", "credit_limit",
    "credit_used", "txn_count", "last_txn_date", "fee_income", "contribution", "products_held",
]
HOLDING_COLUMNS = ["id", "customer_id", "account_no", "product_code", "product_name", "product_type",
                   "product_risk", "balance", "opened_on", "matures_on", "status"]
INTERACTION_COLUMNS = ["id", "customer_id", "staff_id", "channel", "occurred_at", "outcome", "notes",
                       "next_follow_up", "created_at"]
TASK_COLUMNS = ["id", "customer_id", "assignee_id", "title", "due_date", "status", "outcome", "created_at",
                "completed_at", "source_interaction_id"]


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
                             + _pick(rng, COMPANY_SUFFIXES, COMPANY_SUFFIX_P, n_corp))
        industry[corp_idx] = np.asarray([i[1] for i in INDUSTRIES], dtype=object)[ind_i]
        legal_rep[corp_idx] = person_names(rng, rng.random(n_corp) < 0.7)
        contact[corp_idx] = person_names(rng, rng.random(n_corp) < 0.5)
        org_body = [f"{v:08d}" for v in rng.integers(0, 10**8, n_corp).tolist()]
        org_code = [b + c for b, c in zip(org_body, _org_code_check(org_body))]
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
        np.asarray(RISK_LEVELS, dtype=object)[risk].tolist(),
        _fmt_dates(assessed, risk == 0),
        np.asarray([s.value for s in STAGES], dtype=object)[stage].tolist(),
        tags,
        blank.tolist(),
        _fmt_money(aum_c[:, -1]),
        _fmt_dates(np.maximum(cust_last_txn, 0), cust_last_txn < 0),
        _fmt_ts(created_s),
        _fmt_ts(updated_s),
        branch_id.tolist(),
        rm_id.tolist(),
    ]
    tables = [("customers_customer", CUSTOMER_COLUMNS, join_fields(cust_cols), n)]

    # --- snapshot rows (customer-major, oldest month first) ---
    rows = n * M
    period_str = np.tile(np.asarray([p.isoformat() for p in ctx.periods], dtype=object), n)
    snap_cols = [
        np.repeat(cid, M).tolist(), period_str.tolist(),
        _fmt_money(aum_c.ravel()), _fmt_money(avg_c.ravel()), _fmt_money(deposits_c.ravel()),
        _fmt_money(wealth_c.ravel()), _fmt_money(funds_c.ravel()), _fmt_money(loans_c.ravel()),
        _fmt_money(np.repeat(limit_c, M)), _fmt_money(used_c.ravel()), txn.ravel().tolist(),
        _fmt_dates(np.maximum(last_txn_m, 0).ravel(), (last_txn_m < 0).ravel()),
        _fmt_money(fee_c.ravel()), _fmt_money(contrib_c.ravel()), np.repeat(products_held, M).tolist(),
    ]
    tables.append(("customers_financialsnapshot", SNAPSHOT_COLUMNS, join_fields(snap_cols), rows))

    # --- holding rows ---
    tables.append(_holdings(ctx, rng, ids, cid, corp, risk, stage, h_cust, h_type, deposits_c[:, -1],
                            wealth_c[:, -1], funds_c[:, -1], loans_c[:, -1], limit_c, used_c[:, -1], has_td,
                            created_s, today_day))

    # --- interactions and tasks ---
    tables.extend(_interactions(ctx, rng, ids, cid, rm_id, aum, stage, today_day))
    return Chunk(tables=[t for t in tables if t[3]], customers=n)


def _holdings(ctx, rng, ids, cid, corp, risk, stage, h_cust, h_type, dep_c, wealth_c, funds_c, loans_c, limit_c,
              used_c, has_td, created_s, today_day):
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
    for t, ptype in enumerate(HOLDING_TYPES):
        sel = h_type == t
        if not sel.any():
            continue
        cust = h_cust[sel]
        key = ptype
        if ptype == ProductType.DEPOSIT:
            cat_pick = np.where(corp[cust], 1, 0)
            cat = CATALOG[ProductType.DEPOSIT] + CATALOG["corp_deposit"]
        elif ptype == ProductType.LOAN:
            cat = CATALOG[ProductType.LOAN] + CATALOG["corp_loan"]
            cat_pick = np.where(corp[cust], 3 + (u[sel] * 2).astype(int), (u[sel] * 3).astype(int))
        elif ptype == ProductType.CREDIT_CARD:
            cat = CATALOG[key]
            cat_pick = np.digitize(limit_c[cust], [50_000 * 100, 100_000 * 100])
        else:
            cat = CATALOG[key]
            allowed = np.array([sum(1 for c in cat if c[2] <= f"R{lv}") for lv in range(6)])
            cat_pick = (u[sel] * np.maximum(allowed[level[sel]], 1)).astype(int)
        cat_arr = np.asarray(cat, dtype=object)
        code[sel], pname[sel], prisk[sel] = cat_arr[cat_pick, 0], cat_arr[cat_pick, 1], cat_arr[cat_pick, 2]
        if ptype == ProductType.DEPOSIT:
            balance[sel] = np.where(has_td[cust], dep_c[cust] - td_dep[cust], dep_c[cust])
            body = ("621700" + c10[sel] + "0" + np.char.mod("%d", (u[sel] * 10).astype(int)).astype(object))
            acct[sel] = body + luhn_check_digits(body.tolist(), 18).astype(str).astype(object)  # 19 digits
        elif ptype == ProductType.TIME_DEPOSIT:
            balance[sel] = td_dep[cust]
            acct[sel] = "3100" + c10[sel] + r4[sel]  # 18
        elif ptype == ProductType.WEALTH:
            balance[sel] = wealth_c[cust]
            acct[sel] = "8800" + c10[sel] + r4[sel]  # 18
        elif ptype == ProductType.FUND:
            balance[sel] = funds_c[cust]
            acct[sel] = "66" + c10[sel] + r4[sel]  # 16
        elif ptype == ProductType.LOAN:
            balance[sel] = loans_c[cust]
            acct[sel] = "7200" + c10[sel] + r4[sel]  # 18
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
            _fmt_money(balance), _fmt_dates(np.minimum(opened, today_day)),
            _fmt_dates(np.maximum(mature, 0), mature < 0), status.tolist()]
    return ("customers_holding", HOLDING_COLUMNS, join_fields(cols), m)


def _interactions(ctx, rng, ids, cid, rm_id, aum, stage, today_day):
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
                np.asarray([c.value for c in CHANNELS], dtype=object)[chan].tolist(), _fmt_ts(at),
                np.asarray([o.value for o in OUTCOMES], dtype=object)[outc].tolist(), notes.tolist(),
                _fmt_dates(follow_day, ~follow), _fmt_ts(created)]
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
        cols = [tid.tolist(), cid[t_cust].tolist(), rm_id[t_cust].tolist(), titles.tolist(), _fmt_dates(due),
                np.where(done, TaskStatus.DONE.value, TaskStatus.OPEN.value).tolist(),
                np.where(done, "已完成回访", "").tolist(),
                _fmt_ts(t_created),
                [c if d else "\\N" for c, d in zip(_fmt_ts(completed), done.tolist())],
                [str(s) if s >= 0 else "\\N" for s in src.tolist()]]
        out.append(("customers_followuptask", TASK_COLUMNS, join_fields(cols), t))
    return out


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------

SEQUENCED_TABLES = ["customers_customer", "customers_financialsnapshot", "customers_holding",
                    "customers_interaction", "customers_followuptask"]


class _Writer(threading.Thread):
    """Runs the COPYs on its own connection, in one transaction, while the main thread generates."""

    def __init__(self, log, total):
        super().__init__(daemon=True)
        self.q: queue.Queue = queue.Queue(maxsize=2)
        self.log, self.total = log, total
        self.error: BaseException | None = None
        self.rows, self.seconds = {}, {}
        self.conn = psycopg2.connect(**connection.get_connection_params())
        self.conn.autocommit = False
        with self.conn.cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # check FKs during COPY, not all at COMMIT
            # GIN (name bigrams, tags) inserts go through the pending list: a bigger list and more memory
            # to merge it make the bulk load cheaper (both are per-session settings)
            cur.execute("SET LOCAL gin_pending_list_limit = '64MB'")
            cur.execute("SET LOCAL work_mem = '64MB'")

    def run(self):
        started = time.monotonic()
        done = 0
        try:
            while (chunk := self.q.get()) is not None:
                if self.error:
                    continue
                t0 = time.monotonic()
                spent = []
                with self.conn.cursor() as cur:
                    for table, cols, text, rows in chunk.tables:
                        t1 = time.monotonic()
                        # bytes and a large buffer: few GIL round trips while the main thread generates
                        copy_data(cur, table, cols, text)
                        self.rows[table] = self.rows.get(table, 0) + rows
                        self.seconds[table] = self.seconds.get(table, 0.0) + time.monotonic() - t1
                        spent.append(f"{table.removeprefix('customers_')[:8]} {time.monotonic() - t1:.1f}s")
                done += chunk.customers
                elapsed = time.monotonic() - started
                chunk_rows = sum(t[3] for t in chunk.tables)
                self.log(f"  {done:>10,}/{self.total:,} customers  chunk {chunk_rows:,} rows in "
                         f"{time.monotonic() - t0:.1f}s ({', '.join(spent)})  | {done / elapsed:,.0f} customers/s, "
                         f"{sum(self.rows.values()) / elapsed:,.0f} rows/s")
        except BaseException as e:  # noqa: BLE001 - handed to the main thread, which re-raises it
            self.error = e


def seed(*, customers: int, seed: int = 1, months: int = 24, today: date, if_empty: bool = False,
         n_rms: int | None = None, chunk_size: int = CHUNK_SIZE, vacuum: bool = True, log=print) -> dict:
    """Create the demo bank; returns row counts and timings. See the module docstring."""
    from .models import Customer

    t_start = time.monotonic()
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
    try:
        if if_empty and Customer.objects.exists():
            log("customers already exist: nothing to do (--if-empty)")
            return {"skipped": True}
        n_rms = n_rms or max(10, min(500, customers // 2500))
        with transaction.atomic():
            org = org_ensure(seed=seed, n_rms=n_rms, log=log)
        ctx = make_context(seed=seed, months=months, today=today, org=org)
        with connection.cursor() as cur:
            nxt = {}
            for table, key in [("customers_customer", "customer"), ("customers_holding", "holding"),
                               ("customers_interaction", "interaction"), ("customers_followuptask", "task")]:
                cur.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")
                nxt[key] = cur.fetchone()[0]
        log(f"generating {customers:,} customers × {months} months ({ctx.periods[0]:%Y-%m} … "
            f"{ctx.periods[-1]:%Y-%m}), {len(org.rm_ids)} RMs, seed {seed}")
        writer = _Writer(log, customers)
        writer.start()
        gen_time = 0.0
        try:
            try:
                for index, first in enumerate(range(0, customers, chunk_size)):
                    if writer.error:
                        break
                    t0 = time.monotonic()
                    n = min(chunk_size, customers - first)
                    chunk = generate_chunk(ctx, index, nxt["customer"] + first, n, nxt)
                    gen_time += time.monotonic() - t0
                    writer.q.put(chunk)
            finally:
                writer.q.put(None)
                writer.join()
            if writer.error:
                raise writer.error
            with writer.conn.cursor() as cur:
                for table in SEQUENCED_TABLES:
                    cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 1), "
                                f"max(id) IS NOT NULL) FROM {table}")
            writer.conn.commit()
        except BaseException:
            writer.conn.rollback()
            raise
        finally:
            writer.conn.close()
        t_loaded = time.monotonic()
        log(f"loaded in {t_loaded - t_start:.1f}s (generation {gen_time:.1f}s of it, overlapped with COPY)")
        with connection.cursor() as cur:
            for table in SEQUENCED_TABLES + ["org_branch", "org_user"]:
                cur.execute(f"VACUUM (ANALYZE) {table}" if vacuum else f"ANALYZE {table}")
        t_end = time.monotonic()
        log(f"{'VACUUM ANALYZE' if vacuum else 'ANALYZE'} in {t_end - t_loaded:.1f}s; total {t_end - t_start:.1f}s")
        return {"rows": writer.rows, "load_seconds": t_loaded - t_start, "total_seconds": t_end - t_start,
                "generation_seconds": gen_time, "logins": org.logins}
    finally:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
