"""Reads for the exchange, each with its access rule."""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet

from catalog.models import Dataset, DatasetStatus, Tier
from core.workdays import today as workdays_today
from core.workdays import working_day_add
from registry.models import System
from registry.policy import Perm, allows, allows_everywhere, departments_granting, scope
from registry.versions import VersionedMemo

from .models import WAITING_STATES, AccessRequest, AccessRequestStep, Grant, GrantState, Purpose, RequestState

_UNREVOKED: VersionedMemo[tuple[int, int], list[Grant]] = VersionedMemo("unrevoked grants")


def grants_active(*, consumer: System, dataset: Dataset, at: dt.datetime, version: int | None = None) -> list[Grant]:
    """The unrevoked grants in force at ``at`` for this system and dataset, newest first; suspended ones
    included (``suspended_at`` set): the caller refuses them with their reason.

    For a request's access ``version`` (``registry.versions``) the unrevoked grants come from memory
    while nothing changed (revoking a grant bumps the version); their validity window is checked here,
    on every call. The grant objects are shared: read them, never change them.
    """

    def load() -> list[Grant]:
        return list(Grant.objects.filter(consumer=consumer, dataset=dataset, revoked_at__isnull=True)
                    .order_by("-created_at", "-pk"))

    unrevoked = load() if version is None else _UNREVOKED.get(version, (consumer.pk, dataset.pk), load) or []
    return [grant for grant in unrevoked if grant.valid_from <= at < grant.valid_until]


def grants_of_consumer(*, consumer: System, at: dt.datetime) -> list[Grant]:
    """The system's grants that are neither revoked nor expired at ``at`` (in force, not yet in force or
    suspended), with their datasets and fields: what ``GET /api/v1/grants`` lists."""
    return list(Grant.objects.filter(consumer=consumer, revoked_at__isnull=True, valid_until__gt=at)
                .select_related("dataset__owner").prefetch_related("dataset__fields")
                .order_by("dataset__identifier", "-created_at", "-pk"))


def access_requests_visible_to(*, user: Any) -> QuerySet[AccessRequest]:
    """Requests filed by the user's departments' systems, and requests for their departments' datasets."""
    return scope(user, Perm.REQUEST_VIEW,
                 AccessRequest.objects.select_related("consumer__department", "dataset__owner", "filed_by"))


def grants_visible_to(*, user: Any) -> QuerySet[Grant]:
    return scope(user, Perm.GRANT_VIEW, Grant.objects.select_related("consumer__department", "dataset__owner"))


def grant_revoked_latest(*, consumer: System, dataset: Dataset, at: dt.datetime) -> Grant | None:
    """The newest grant of this system for this dataset that was revoked while it would still be in force at
    ``at``: why a read is refused (asked only on that refusal's path)."""
    return (Grant.objects.filter(consumer=consumer, dataset=dataset, revoked_at__isnull=False, valid_from__lte=at,
                                 valid_until__gt=at).order_by("-revoked_at", "-pk").first())


# --- The admin: filing, deciding, the inbox ---


def datasets_to_request() -> QuerySet[Dataset]:
    """Published datasets a request can name: conditional and unconditional sharing, and not-shared data (whose
    request is answered at once and recorded as unmet demand). Open data needs no request."""
    return (Dataset.objects.filter(status=DatasetStatus.PUBLISHED,
                                   tier__in=[Tier.CONDITIONAL, Tier.UNCONDITIONAL, Tier.NOT_SHARED])
            .select_related("owner"))


def systems_filing_for(*, user: Any) -> QuerySet[System]:
    """The active systems the user may file requests for: their own departments' (all of them for a superuser)."""
    systems = System.objects.filter(active=True).select_related("department")
    if allows_everywhere(user, Perm.REQUEST_FILE):
        return systems
    return systems.filter(department_id__in=departments_granting(user, Perm.REQUEST_FILE))


def purposes_active() -> QuerySet[Purpose]:
    """The purposes a new request may name (the data authority's vocabulary)."""
    return Purpose.objects.filter(active=True).order_by("code")


def purpose_get(*, code: str) -> Purpose | None:
    """The purpose of this code, active or not (an old request keeps the purpose it named)."""
    return Purpose.objects.filter(code=code).first()


def may_decide_requests(*, user: Any) -> bool:
    """Whether the user decides requests at all: an approver somewhere, or the data authority."""
    return allows(user, Perm.REQUEST_DECIDE) or allows(user, Perm.REQUEST_DECIDE_ESCALATED)


def access_requests_waiting_for(*, user: Any) -> QuerySet[AccessRequest]:
    """Requests waiting for the user's decision: submitted or resubmitted, for a dataset of a department where
    they are an approver (those handed to them included), or escalated, for the data authority. Never their own."""
    condition = Q(pk__in=[])
    approver_of = departments_granting(user, Perm.REQUEST_DECIDE)
    if approver_of:
        condition |= Q(dataset__owner_id__in=approver_of)
    if allows(user, Perm.REQUEST_DECIDE_ESCALATED):
        condition |= Q(escalated_at__isnull=False)
    return (AccessRequest.objects.filter(condition, state__in=WAITING_STATES)
            .exclude(filed_by_id=getattr(user, "pk", None)))


def access_requests_filed_by_departments_of(*, user: Any) -> QuerySet[AccessRequest]:
    """Requests of the systems of the departments the user files requests for (all of them for a superuser)."""
    requests = AccessRequest.objects.all()
    if allows_everywhere(user, Perm.REQUEST_FILE):
        return requests
    return requests.filter(consumer__department_id__in=departments_granting(user, Perm.REQUEST_FILE))


def deadline_window(*, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """(today, the last day that counts as "due soon"): REQUEST_REMIND_WORKING_DAYS working days ahead."""
    today = today or workdays_today()
    return today, working_day_add(today, settings.REQUEST_REMIND_WORKING_DAYS)


def due_soon_q(*, today: dt.date | None = None) -> Q:
    """Waiting requests whose deadline is today or within REQUEST_REMIND_WORKING_DAYS working days."""
    today, soon = deadline_window(today=today)
    return Q(state__in=WAITING_STATES, due_date__gte=today, due_date__lte=soon)


def overdue_q(*, today: dt.date | None = None) -> Q:
    """Waiting requests whose deadline has passed."""
    return Q(state__in=WAITING_STATES, due_date__lt=today or workdays_today())


@dataclass(frozen=True)
class RequestInbox:
    """What the admin's home page tells a person about requests: the ones waiting for their decision, and their
    department's own requests by state. ``None`` where the person has no part in it."""

    waiting: int | None = None
    due_soon: int | None = None
    overdue: int | None = None
    drafts: int | None = None
    returned: int | None = None
    filed_waiting: int | None = None

    @property
    def decides(self) -> bool:
        return self.waiting is not None

    @property
    def files(self) -> bool:
        return self.drafts is not None


def request_inbox(*, user: Any, today: dt.date | None = None) -> RequestInbox:
    """The counts for the home panel, in one COUNT query for each side the person is on."""
    counts: dict[str, int | None] = {}
    if may_decide_requests(user=user):
        counts.update(access_requests_waiting_for(user=user).aggregate(
            waiting=Count("pk"), due_soon=Count("pk", filter=due_soon_q(today=today)),
            overdue=Count("pk", filter=overdue_q(today=today))))
    if allows(user, Perm.REQUEST_FILE):
        counts.update(access_requests_filed_by_departments_of(user=user).aggregate(
            drafts=Count("pk", filter=Q(state=RequestState.DRAFT)),
            returned=Count("pk", filter=Q(state=RequestState.RETURNED)),
            filed_waiting=Count("pk", filter=Q(state__in=WAITING_STATES))))
    return RequestInbox(**counts)


def grants_of_consumer_for_dataset(*, consumer: System, dataset: Dataset) -> QuerySet[Grant]:
    """Every grant, in force or not, of this system for this dataset: what the requester already holds."""
    return (Grant.objects.filter(consumer=consumer, dataset=dataset).select_related("access_request")
            .order_by("-created_at", "-pk"))


def access_request_history(*, access_request: AccessRequest) -> QuerySet[AccessRequestStep]:
    """The request's steps, oldest first, with who made them."""
    return access_request.steps.select_related("actor").order_by("at", "pk")


def grant_renewal_pending(*, grant: Grant) -> AccessRequest | None:
    """The renewal request of this grant that is still open or granted (only one is allowed at a time)."""
    return (grant.renewals.exclude(state__in=[RequestState.REJECTED, RequestState.WITHDRAWN])
            .order_by("-filed_at").first())


def grant_state_q(state: GrantState, *, at: dt.datetime) -> Q:
    """The grants in ``state`` at ``at``, as a filter (the same rules as ``Grant.state_at``)."""
    unrevoked, running = Q(revoked_at__isnull=True), Q(valid_until__gt=at)
    return {
        GrantState.REVOKED: Q(revoked_at__isnull=False),
        GrantState.EXPIRED: unrevoked & Q(valid_until__lte=at),
        GrantState.SUSPENDED: unrevoked & running & Q(suspended_at__isnull=False),
        GrantState.PENDING: unrevoked & running & Q(suspended_at__isnull=True, valid_from__gt=at),
        GrantState.ACTIVE: unrevoked & running & Q(suspended_at__isnull=True, valid_from__lte=at),
    }[state]


#: The audit events of a consumer using a dataset (the provider's "who used my data"); pushes are the provider's.
USE_ACTIONS = ("record.read", "records.listed", "records.looked_up", "export.requested", "export.downloaded")


def dataset_usage(*, user: Any) -> list[dict[str, Any]]:
    """Who used the datasets ``user`` may see (their department's, or every one for auditors): the calls that
    were served, by month, dataset, consumer system, purpose and grant, newest month first."""
    from django.db.models.functions import TruncMonth

    from audit.models import AuditEvent, Outcome

    identifiers = list(scope(user, Perm.DATASET_VIEW, Dataset.objects.all()).values_list("identifier", flat=True))
    rows = (AuditEvent.objects.filter(object_type="dataset", object_id__in=identifiers, outcome=Outcome.OK,
                                      action__in=USE_ACTIONS, actor_type="system")
            .annotate(month=TruncMonth("created_at"))
            .values("month", "object_id", "actor_id", "actor_department", "purpose", "grant_id")
            .annotate(calls=Count("id")).order_by("-month", "object_id", "-calls"))
    return [dict(row) for row in rows]
