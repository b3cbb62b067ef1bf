"""Places and people: real county codes and Chinese names drawn by frequency."""

import numpy as np

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


def person_names(rng, male: np.ndarray) -> np.ndarray:
    """Chinese full names: surname by frequency, one or two given-name characters by gender."""
    n = len(male)
    sur = np.asarray(SURNAMES, dtype=object)[rng.choice(len(SURNAMES), size=n, p=SURNAME_P)]
    mc, fc = np.asarray(MALE_CHARS, dtype=object), np.asarray(FEMALE_CHARS, dtype=object)
    g1 = np.where(male, mc[rng.choice(len(mc), size=n, p=MALE_P)], fc[rng.choice(len(fc), size=n, p=FEMALE_P)])
    g2 = np.where(male, mc[rng.choice(len(mc), size=n, p=MALE_P)], fc[rng.choice(len(fc), size=n, p=FEMALE_P)])
    two = rng.random(n) >= SINGLE_GIVEN_NAME
    return sur + g1 + np.where(two, g2, "")

