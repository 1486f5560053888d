"""`make demo`'s loader: a catalogue that tells a story on first launch, made through the services, run twice."""

import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from audit.models import AuditEvent
from catalog.models import Dataset, DatasetStatus, DatasetVersion, Grade, Licence, Record, Tier, resource_code_validator
from core.workdays import is_working_day, working_day_add, working_days_between
from core.workdays import today as workdays_today
from exchange.management.commands.demo_setup import (
    DATASET_ID,
    DEMO_RECORD_KEY,
    EMAIL_DOMAIN,
    working_days_from,
)
from exchange.models import (
    WAITING_STATES,
    AccessRequest,
    AccessRequestStep,
    Grant,
    GrantState,
    RejectionReason,
    RequestState,
)
from notifications.models import Notification, NotificationKind
from registry.models import PlatformRoleName, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings: Any, tmp_path: Path) -> str:
    """A fresh demo in a data folder of its own (the consumer's key file goes there); its printed summary."""
    settings.DATA_DIR = tmp_path
    out = io.StringIO()
    call_command("demo_setup", "--base-url", "http://demo.test", stdout=out)
    return out.getvalue()


def published() -> list[Dataset]:
    return list(Dataset.objects.filter(status=DatasetStatus.PUBLISHED).select_related("owner"))


def test_several_departments_publish_in_every_tier_with_full_metadata(demo: str) -> None:
    datasets = published()
    assert {d.tier for d in datasets} == set(Tier.values)
    assert len({d.owner_id for d in datasets}) >= 5
    for dataset in datasets:
        assert dataset.keywords and dataset.themes and dataset.spatial and dataset.temporal_start, dataset
        assert dataset.contact_name and dataset.contact_email and dataset.contact_phone, dataset
        resource_code_validator(dataset.resource_code)
        assert all(f.description for f in dataset.fields.all()), dataset
        if dataset.tier in (Tier.CONDITIONAL, Tier.NOT_SHARED):
            assert dataset.legal_basis, dataset
    codes = {d.resource_code for d in Dataset.objects.all()}
    related = {code for d in datasets for code in d.related_resources}
    assert related and related <= codes  # related resources name datasets of the catalogue
    assert {d.grade for d in datasets} == set(Grade.values)


def test_open_datasets_are_licensed_general_impersonal_and_have_records(demo: str) -> None:
    open_data = [d for d in published() if d.tier == Tier.OPEN]
    assert len(open_data) >= 3
    for dataset in open_data:
        assert dataset.licence == Licence.CC_BY_4 and dataset.grade == Grade.GENERAL and not dataset.personal_data
        assert Record.objects.filter(dataset=dataset, generation=dataset.records_generation).count() >= 20
    unconditional = next(d for d in published() if d.tier == Tier.UNCONDITIONAL)
    assert Record.objects.filter(dataset=unconditional).exists()


def test_one_dataset_shows_a_published_second_version_with_its_note(demo: str) -> None:
    second = DatasetVersion.objects.select_related("dataset").get(number=2)
    assert second.note and second.dataset.version == 2 and second.dataset.status == DatasetStatus.PUBLISHED
    first = DatasetVersion.objects.get(dataset=second.dataset, number=1)
    added = {f[0] for f in second.schema} - {f[0] for f in first.schema}
    assert added
    # Its records were loaded with the second version's fields.
    record = Record.objects.filter(dataset=second.dataset).first()
    assert record is not None and added <= set(record.data)


def test_another_department_holds_a_near_copy_of_a_published_dataset_as_a_draft(demo: str) -> None:
    draft = Dataset.objects.get(status=DatasetStatus.DRAFT)
    draft_fields = {f.name for f in draft.fields.all()}
    copied = [d for d in published() if d.owner_id != draft.owner_id
              and len(draft_fields & {f.name for f in d.fields.all()}) >= 0.75 * len(draft_fields)]
    assert [d.identifier for d in copied] == [DATASET_ID]


def test_the_walkthrough_data_is_still_there(demo: str) -> None:
    dataset = Dataset.objects.get(identifier=DATASET_ID, status=DatasetStatus.PUBLISHED)
    assert Record.objects.filter(dataset=dataset, key=DEMO_RECORD_KEY).exists()
    # The printed signed call reads under exactly one grant: the only one police-rms holds for the dataset.
    grants = [g for g in Grant.objects.filter(consumer__code="police-rms", dataset=dataset)
              if g.state == GrantState.ACTIVE]
    assert [g.allowed_fields for g in grants] == [["vaccine", "dose_date"]]
    # The README's walkthrough: the approver approves in part, the clerk changes and resubmits, the data
    # authority hands over.
    in_part = AccessRequest.objects.get(case_reference="东卫〔2026〕0107号")
    assert in_part.state == RequestState.SUBMITTED and "adverse_reaction" in in_part.fields
    returned = AccessRequest.objects.get(case_reference="东卫〔2026〕0098号")
    assert returned.state == RequestState.RETURNED and returned.return_comment
    escalated = AccessRequest.objects.get(case_reference="公刑〔2026〕0588号")
    assert escalated.escalated_at is not None and escalated.assignee is None and escalated.is_waiting
    # Every request the README names is one of the demo's.
    readme = (Path(django_settings.BASE_DIR) / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"[^\s|(（]+〔2026〕\d+号", readme))
    assert len(named) >= 16 and named <= set(AccessRequest.objects.values_list("case_reference", flat=True))


def test_requests_are_in_every_state_with_what_each_state_records(demo: str) -> None:
    requests = AccessRequest.objects.select_related("dataset").all()
    assert {r.state for r in requests} == set(RequestState.values)
    part = AccessRequest.objects.get(state=RequestState.APPROVED_IN_PART)
    assert len(part.grant.allowed_fields) < len(part.fields) and part.grant.daily_quota is not None
    assert part.grant.daily_quota < part.expected_daily_volume and part.decision_reason
    rejected = [r for r in requests if r.state == RequestState.REJECTED and not r.is_unmet_demand]
    assert rejected and all(r.rejection_reason in RejectionReason.values and r.rejection_legal_basis
                            and r.decision_reason for r in rejected)
    unmet = [r for r in requests if r.is_unmet_demand]
    assert len(unmet) == 1 and unmet[0].dataset.tier == Tier.NOT_SHARED and unmet[0].rejection_legal_basis
    subscriptions = [r for r in requests if r.dataset.tier == Tier.UNCONDITIONAL]
    assert subscriptions and all(r.state == RequestState.APPROVED and r.grant for r in subscriptions)
    resubmitted = AccessRequest.objects.get(state=RequestState.RESUBMITTED)
    assert list(resubmitted.steps.values_list("action", flat=True)) == ["submit", "return_for_changes", "resubmit"]
    assert AccessRequest.objects.filter(state=RequestState.RETURNED).exclude(return_comment="").exists()


def test_requests_wait_in_time_due_soon_due_today_and_overdue_on_true_working_day_deadlines(demo: str) -> None:
    today = workdays_today()
    waiting = list(AccessRequest.objects.filter(state__in=WAITING_STATES))
    days_left = sorted(working_days_between(today, r.due_date) for r in waiting if r.due_date)
    assert days_left[0] < 0  # overdue
    assert 0 < min(d for d in days_left if d > 0) <= 2  # due within 2 working days
    assert days_left[-1] == django_settings.REQUEST_DEADLINE_WORKING_DAYS  # comfortably in time
    for request in waiting:
        assert request.submitted_at is not None and request.due_date is not None
        assert is_working_day(request.due_date)
        if request.assignee is None:  # a handed-over request has the deadline the data authority gave it
            submitted_on = timezone.localdate(request.submitted_at)
            assert request.due_date == working_day_add(submitted_on, django_settings.REQUEST_DEADLINE_WORKING_DAYS)
            assert request.filed_at <= request.submitted_at
            if submitted_on < today:  # placed in the past: its history too
                assert all(step.at == request.submitted_at for step in request.steps.all())
    soon = [r for r in waiting if r.due_date and 0 <= working_days_between(today, r.due_date) <= 2]
    assert soon and all(r.reminded_soon_at is not None for r in soon)
    reminded = AuditEvent.objects.filter(action="access_request.reminded").values_list("object_id", flat=True)
    assert {str(r.pk) for r in soon} == set(reminded)


def test_an_overdue_request_is_escalated_to_the_data_authority_and_another_is_handed_over(demo: str) -> None:
    today = workdays_today()
    waiting = AccessRequest.objects.filter(state__in=WAITING_STATES)
    overdue = waiting.get(escalated_at__isnull=False)
    assert overdue.due_date is not None and overdue.due_date < today and overdue.assignee is None
    handed = waiting.get(assignee__isnull=False)  # escalated, then handed over: its clock runs again
    assert handed.assignee is not None and handed.assignee.memberships.filter(
        department=handed.dataset.owner, role=Role.APPROVER).exists()
    escalated = [overdue, handed]
    assert set(AuditEvent.objects.filter(action="access_request.escalated").values_list("object_id", flat=True)) == {
        str(r.pk) for r in escalated}
    assert handed.due_date == working_day_add(today, django_settings.REQUEST_HANDOVER_WORKING_DAYS)
    assert AuditEvent.objects.filter(action="access_request.handed_over", object_id=str(handed.pk)).exists()
    authority = get_user_model().objects.get(platform_roles__role=PlatformRoleName.DATA_AUTHORITY)
    unread = Notification.objects.filter(recipient=authority, read_at=None)
    assert {n.params["request"] for n in unread.filter(kind=NotificationKind.REQUEST_ESCALATED)} == {
        r.pk for r in escalated}
    assert Notification.objects.filter(recipient=handed.assignee, kind=NotificationKind.REQUEST_ASSIGNED).exists()


def test_a_grant_is_revoked_with_a_reason_and_another_expires_within_30_days(demo: str) -> None:
    revoked = Grant.objects.get(revoked_at__isnull=False)
    assert revoked.revocation_reason and revoked.revoked_by is not None
    assert Notification.objects.filter(kind=NotificationKind.GRANT_REVOKED, params__grant=revoked.pk).exists()
    expiring = [g for g in Grant.objects.all() if g.state == GrantState.ACTIVE
                and g.valid_until <= timezone.now() + dt.timedelta(days=30)]
    assert len(expiring) == 1 and expiring[0].expiry_notified_at is not None
    assert Notification.objects.filter(kind=NotificationKind.GRANT_EXPIRING, params__grant=expiring[0].pk).exists()


def test_every_person_has_an_address_and_the_summary_says_which_login_is_for_what(demo: str) -> None:
    people = get_user_model().objects.all()
    assert all(person.email == f"{person.username}@{EMAIL_DOMAIN}" for person in people)
    for line in ["approver        health-approver", "clerk           dongcheng-clerk",
                 "data authority  data-authority"]:
        assert line in demo
    assert "health-approver-2" in demo and "hrss-approver" in demo
    # The story's notifications were not emailed: the addresses come after it; what happens next is.
    assert not Notification.objects.filter(email_wanted=True).exists()


@pytest.mark.parametrize("due_in", [-4, -2, 0, 2])
def test_a_request_placed_in_the_past_has_a_true_deadline_across_national_day_and_make_up_days(due_in: int) -> None:
    for offset in range(60):  # every day of September and October 2026 as "today"
        today = dt.date(2026, 9, 1) + dt.timedelta(days=offset)
        due = working_days_from(today, due_in)
        submitted_on = working_days_from(due, -10)
        assert is_working_day(due) and is_working_day(submitted_on)
        assert working_day_add(submitted_on, 10) == due
        if due_in > 0 or is_working_day(today):
            assert working_days_between(today, due) == due_in
        elif due_in == 0:  # on a day off, "today" is the next working day
            assert due == working_day_add(today, 1)
        else:
            assert due < today
    assert working_days_from(dt.date(2026, 10, 12), -3) == dt.date(2026, 10, 8)  # the Saturday 10 Oct is worked
    assert working_days_from(dt.date(2026, 10, 8), -1) == dt.date(2026, 9, 30)  # National Day is not
    assert working_days_from(dt.date(2026, 10, 3), 0) == dt.date(2026, 10, 8)


def test_the_summary_points_at_the_public_catalogue_and_a_search(demo: str) -> None:
    assert "http://demo.test/catalog/" in demo
    assert "疫苗" in demo
    assert "-m exchange.client get " in demo  # the signed call .ci/demo-smoke runs


def test_a_second_run_adds_no_audit_event_and_the_log_verifies(demo: str) -> None:
    events = AuditEvent.objects.count()
    first = AuditEvent.objects.order_by("id").values_list("action", flat=True).first()
    made = [model.objects.count() for model in (AccessRequest, AccessRequestStep, Grant, Notification)]
    call_command("demo_setup", stdout=io.StringIO())
    assert AuditEvent.objects.count() == events
    assert [model.objects.count() for model in (AccessRequest, AccessRequestStep, Grant, Notification)] == made
    assert first == "department.registered"
    assert Dataset.objects.filter(status=DatasetStatus.PUBLISHED).count() == len(published())
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert "OK" in out.getvalue()
