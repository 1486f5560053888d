"""The starting vocabulary of purposes (the data authority keeps it from then on), every purpose code
already in use kept as a purpose of its own, and a deadline for the requests already waiting."""

from django.conf import settings
from django.db import migrations
from django.utils import timezone

# (code, 中文, English): purposes that Chinese government departments commonly state for sharing requests.
PURPOSES = [
    ("public-health.outbreak-tracing", "传染病疫情流行病学调查", "Epidemiological investigation of an outbreak"),
    ("public-health.vaccination", "预防接种管理", "Vaccination management"),
    ("law-enforcement.investigation", "案件侦查与办理", "Criminal investigation and case handling"),
    ("social-security.eligibility", "社会保险待遇资格认证", "Social insurance entitlement checks"),
    ("social-assistance.eligibility", "社会救助对象核查", "Social assistance eligibility checks"),
    ("market-regulation.supervision", "市场主体登记与监管", "Registration and supervision of market entities"),
    ("government-services.one-stop", "政务服务“一网通办”免提交证明材料", "One-stop government services (no paper proofs)"),
    ("transport.planning", "交通规划与运行管理", "Transport planning and operations"),
    ("statistics.official", "政府统计调查", "Official statistics"),
    ("emergency.response", "应急管理与救援", "Emergency management and rescue"),
    ("education.enrolment", "入学资格审核", "School enrolment checks"),
    ("tax.administration", "税收征管", "Tax administration"),
]


def forward(apps, schema_editor):
    Purpose = apps.get_model("exchange", "Purpose")
    AccessRequest = apps.get_model("exchange", "AccessRequest")
    for code, zh, en in PURPOSES:
        Purpose.objects.get_or_create(code=code, defaults={"label_zh": zh, "label_en": en})
    for code in AccessRequest.objects.values_list("purpose_code", flat=True).distinct():
        Purpose.objects.get_or_create(code=code, defaults={"label_zh": code, "label_en": code})
    from core.workdays import working_day_add

    for request in AccessRequest.objects.filter(state="submitted", due_date=None):
        request.submitted_at = request.filed_at
        request.due_date = working_day_add(timezone.localdate(request.filed_at),
                                           settings.REQUEST_DEADLINE_WORKING_DAYS)
        request.save(update_fields=["submitted_at", "due_date"])


class Migration(migrations.Migration):
    dependencies = [("exchange", "0005_request_workflow")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
