"""What a fresh install needs to take complaints: the default SLA policy (first response within 24 hours of calendar
time; resolution within 10 working days, i.e. 70 working hours on the default calendar) and a starting taxonomy of
categories and sub-categories that head office edits."""

from django.db import migrations

CATEGORIES = [
    ("card", "银行卡", [("card_fee", "收费争议"), ("card_fraud", "盗刷与异常交易"), ("card_limit", "额度、冻结与销户")]),
    ("deposit", "存款", [("deposit_interest", "利息计算"), ("deposit_withdrawal", "存取款")]),
    ("loan", "贷款", [("loan_rate", "利率与还款"), ("loan_collection", "催收方式"), ("loan_credit", "征信记录")]),
    ("wealth", "理财与代销", [("wealth_misselling", "销售误导"), ("wealth_return", "收益与亏损")]),
    ("payment", "支付结算", [("payment_transfer", "转账汇款"), ("payment_mobile", "手机银行与网银")]),
    ("service", "服务", [("service_attitude", "服务态度"), ("service_waiting", "排队等候"),
                         ("service_facility", "网点设施")]),
    ("privacy", "个人信息保护", [("privacy_leak", "信息泄露"), ("privacy_marketing", "营销打扰")]),
]


def create(apps, schema_editor):
    Category = apps.get_model("complaints", "Category")
    SlaPolicy = apps.get_model("complaints", "SlaPolicy")
    for position, (code, name, children) in enumerate(CATEGORIES):
        parent, _created = Category.objects.get_or_create(code=code, defaults={"name": name, "position": position})
        for k, (child_code, child_name) in enumerate(children):
            Category.objects.get_or_create(code=child_code, defaults={"name": child_name, "parent": parent,
                                                                      "position": k})
    if not SlaPolicy.objects.filter(is_default=True).exists():
        SlaPolicy.objects.create(name="默认服务时限", is_default=True, active=True,
                                 first_response_seconds=24 * 3600, first_response_mode="calendar",
                                 resolution_seconds=70 * 3600, resolution_mode="business")


class Migration(migrations.Migration):
    dependencies = [("complaints", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
