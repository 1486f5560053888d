"""Every kind of evidence the audit log holds, declared once: action, object type, detail keys, meaning.

``event_record`` accepts only these, and only the detail keys declared for each, so a reader of this
file (or of ``docs/audit-events.md``, generated from it) knows everything the log can say.
"""

from enum import Enum

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

_CHANGE = ("changed", "old", "new")


class EventType(Enum):
    object_type: str
    detail_keys: tuple[str, ...]
    meaning: Promise

    def __new__(cls, action: str, object_type: str, detail_keys: tuple[str, ...], meaning: Promise) -> "EventType":
        member = object.__new__(cls)
        member._value_ = action
        member.object_type = object_type
        member.detail_keys = detail_keys
        member.meaning = meaning
        return member

    @property
    def action(self) -> str:
        return str(self.value)

    # --- People signing in to the admin ---
    USER_LOGGED_IN = "user.logged_in", "user", ("ip",), _("A person signed in to the admin.")
    USER_LOGIN_FAILED = "user.login_failed", "user", ("ip",), _(
        "A sign-in failed (wrong password or unknown account); the password is never recorded.")
    USER_LOGGED_OUT = "user.logged_out", "user", ("ip",), _("A person signed out of the admin.")
    USER_LOCKED_OUT = "user.locked_out", "user", ("ip", "failures"), _(
        "Sign-ins were locked after repeated failures, for the account tried or the address they came from, until "
        "the cool-off ends or the platform operator unlocks them.")
    USER_UNLOCKED = "user.unlocked", "user", ("username", "ip", "cleared"), _(
        "The platform operator unlocked an account's or an address's sign-ins before the cool-off ended.")
    USER_SECOND_FACTOR_ENROLLED = "user.second_factor_enrolled", "user", ("ip", "recovery_codes"), _(
        "A person enrolled an authenticator app as their second factor and received new recovery codes (never "
        "recorded).")
    USER_SECOND_FACTOR_PASSED = "user.second_factor_passed", "user", ("ip", "method", "remaining"), _(
        "A person passed the second factor after their password, with the authenticator or a recovery code "
        "(then how many codes remain).")
    USER_SECOND_FACTOR_FAILED = "user.second_factor_failed", "user", ("ip", "method"), _(
        "A wrong second-factor code, at sign-in or when enrolling; the code is never recorded.")
    USER_SECOND_FACTOR_RESET = "user.second_factor_reset", "user", ("username",), _(
        "The platform operator removed a person's authenticator and recovery codes; they enrol again at their next "
        "sign-in, and their sessions ended.")
    # --- Auditors reading the log ---
    AUDIT_SUBJECT_LOOKUP = "audit.subject_lookup", "subject", ("found",), _(
        "An auditor looked for every access to one citizen's or company's identifier; the log keeps its keyed "
        "hash (as subject), never the identifier, and how many events were found.")
    AUDIT_EXPORTED = "audit.exported", "audit_log", ("filters", "rows"), _(
        "An auditor downloaded events of the log as CSV: the filters they chose and how many rows.")
    AUDIT_BUNDLE_EXPORTED = "audit.bundle_exported", "audit_log", ("filters", "rows"), _(
        "An auditor downloaded an evidence bundle: events with their inclusion proofs, a signed checkpoint and the "
        "platform's public key, to be checked offline; the filters they chose and how many events.")
    AUDIT_VERIFIED = "audit.verified", "audit_log", ("ok", "tree_size", "checkpoints_checked", "problems"), _(
        "The whole log was verified on request (every leaf recomputed, every checkpoint checked): whether it held, "
        "at what size, and the first problems found.")
    AUDIT_COSIGNED = "audit.cosigned", "checkpoint", ("witness", "tree_size"), _(
        "A witness cosigned a checkpoint: it verified that the log only grew since the last one it cosigned.")
    AUDIT_WITNESS_REGISTERED = "audit.witness_registered", "witness", ("name", "department", "fingerprint"), _(
        "A witness's key was registered: its cosignatures are accepted from now on.")
    # --- The registry: who may do what ---
    DEPARTMENT_REGISTERED = "department.registered", "department", ("new",), _("A department was registered.")
    DEPARTMENT_CHANGED = "department.changed", "department", _CHANGE, _(
        "A department's name, parent or active flag changed (old and new values).")
    MEMBERSHIP_GRANTED = "membership.granted", "membership", ("user", "department", "role"), _(
        "A person was given a role in a department.")
    MEMBERSHIP_CHANGED = "membership.changed", "membership", _CHANGE, _(
        "A membership's person, department or role changed (old and new values).")
    MEMBERSHIP_REVOKED = "membership.revoked", "membership", ("user", "department", "role"), _(
        "A person's role in a department was taken away.")
    PLATFORM_ROLE_GRANTED = "platform_role.granted", "platform_role", ("user", "role"), _(
        "A person was made the platform's data authority or operator.")
    PLATFORM_ROLE_REVOKED = "platform_role.revoked", "platform_role", ("user", "role"), _(
        "A platform-wide role was taken away.")
    SYSTEM_REGISTERED = "system.registered", "system", ("new",), _("A department registered a system (API client).")
    SYSTEM_CHANGED = "system.changed", "system", _CHANGE, _("A system's name changed (old and new values).")
    SYSTEM_DEACTIVATED = "system.deactivated", "system", _CHANGE, _(
        "A system was deactivated: its keys are refused from the next request on.")
    SYSTEM_REACTIVATED = "system.reactivated", "system", _CHANGE, _("A deactivated system was activated again.")
    SYSTEM_KEY_REGISTERED = "system_key.registered", "system_key", (
        "system", "fingerprint", "not_before", "expires_at"), _("A system's public key was registered.")
    SYSTEM_KEY_REVOKED = "system_key.revoked", "system_key", ("system", "reason"), _(
        "A system's key was revoked: signatures made with it are refused from then on.")
    # --- The catalogue ---
    DATASET_REGISTERED = "dataset.registered", "dataset", ("new",), _(
        "A dataset was registered with its schema (its fields).")
    DATASET_UPDATED = "dataset.updated", "dataset", _CHANGE, _(
        "A dataset's metadata or schema changed (old and new values).")
    DATASET_PUBLISHED = "dataset.published", "dataset", ("tier", "version", "fields"), _(
        "A dataset was published in the catalogue under its sharing tier.")
    DATASET_VERSION_PUBLISHED = "dataset.version_published", "dataset", (
        "version", "note", "tier", "added", "removed", "retyped"), _(
        "A published dataset's schema or tier changed: a new version was published (tier old and new, fields "
        "added, removed and re-typed).")
    DATASET_DOWNLOADED = "dataset.downloaded", "dataset", ("format", "rows", "version"), _(
        "Someone (signed in or not) downloaded an open dataset from the public catalogue.")
    RECORDS_CHECKED = "records.checked", "dataset", (
        "job", "file_digest", "format", "encoding", "rows", "problems", "mode"), _(
        "A file of records was checked (a dry run): how many rows, how many problems; nothing was loaded.")
    RECORDS_IMPORTED = "records.imported", "dataset", (
        "rows", "created", "updated", "deleted", "job", "file_digest", "format", "mode"), _(
        "Records were loaded into a dataset from a file (all or nothing), replacing all or by key.")
    RECORDS_IMPORT_FAILED = "records.import_failed", "dataset", ("job", "reason", "file_digest"), _(
        "Checking or loading a file failed; nothing of it was applied.")
    RECORD_VIEWED = "record.viewed", "record", ("dataset", "record_version"), _(
        "A clerk of the owning department opened a record's contents in the admin.")
    # --- The exchange ---
    PURPOSE_ADDED = "purpose.added", "purpose", ("new",), _(
        "The data authority added a purpose to the vocabulary requests choose from.")
    PURPOSE_CHANGED = "purpose.changed", "purpose", _CHANGE, _(
        "The data authority changed a purpose's labels or description, or (de)activated it (old and new values).")
    ACCESS_REQUEST_FILED = "access_request.filed", "access_request", (
        "consumer", "dataset", "fields", "duration_days", "daily_volume", "renews"), _(
        "A clerk drew up a request to read fields of a dataset, for one of the department's systems (a draft until "
        "submitted).")
    ACCESS_REQUEST_UPDATED = "access_request.updated", "access_request", _CHANGE, _(
        "The requesting department changed a draft or returned request (old and new values).")
    ACCESS_REQUEST_SUBMITTED = "access_request.submitted", "access_request", ("dataset", "due_date"), _(
        "A request was submitted to the providing department; its deadline in working days starts.")
    ACCESS_REQUEST_RETURNED = "access_request.returned", "access_request", ("comment",), _(
        "An approver returned a request for changes, saying what to change; the clock stops.")
    ACCESS_REQUEST_RESUBMITTED = "access_request.resubmitted", "access_request", ("due_date",), _(
        "The requesting department submitted a returned request again; a new deadline starts.")
    ACCESS_REQUEST_APPROVED = "access_request.approved", "access_request", (
        "reason", "consumer", "dataset", "fields", "duration_days", "daily_quota", "masking", "row_filter"), _(
        "An approver of the providing department approved a request as asked; the grant is named in the event, "
        "masking lists the fields served masked by the dataset's defaults.")
    ACCESS_REQUEST_APPROVED_IN_PART = "access_request.approved_in_part", "access_request", (
        "reason", "consumer", "dataset", "fields", "duration_days", "daily_quota", "masking", "row_filter",
        "requested"), _(
        "An approver approved a request in part: fewer fields, a shorter duration, a lower quota, a stricter masking "
        "or a row filter (both the terms granted and those requested are recorded).")
    ACCESS_REQUEST_REJECTED = "access_request.rejected", "access_request", (
        "reason", "rejection_reason", "legal_basis", "consumer", "dataset", "fields"), _(
        "An approver of the providing department rejected a request: a reason from the fixed list, a legal basis "
        "and an explanation.")
    ACCESS_REQUEST_WITHDRAWN = "access_request.withdrawn", "access_request", ("from_state",), _(
        "The requesting department withdrew its request.")
    ACCESS_REQUEST_NOT_SHARED = "access_request.not_shared", "access_request", ("dataset", "legal_basis"), _(
        "A request for a dataset that is not shared was answered at once with the dataset's legal basis, and "
        "recorded as unmet demand.")
    ACCESS_REQUEST_SUBSCRIBED = "access_request.subscribed", "access_request", (
        "consumer", "dataset", "fields", "duration_days"), _(
        "A system subscribed to an unconditionally shared dataset: granted at once, for the stated purpose.")
    ACCESS_REQUEST_REMINDED = "access_request.reminded", "access_request", ("due_date", "days_left", "recipients"), _(
        "The request clock reminded the providing department's approvers that a deadline is near or today.")
    ACCESS_REQUEST_ESCALATED = "access_request.escalated", "access_request", ("due_date", "department"), _(
        "The request clock escalated an overdue request to the data authority.")
    ACCESS_REQUEST_HANDED_OVER = "access_request.handed_over", "access_request", ("to", "due_date"), _(
        "The data authority handed an escalated request to an approver of the providing department, with a new "
        "deadline.")
    GRANT_SUSPENDED = "grant.suspended", "grant", ("dataset", "version", "fields", "reason"), _(
        "A grant was suspended because a new version of its dataset removed or re-typed a granted field, or "
        "stopped sharing it.")
    GRANT_REAPPROVED = "grant.reapproved", "grant", ("dataset", "version", "fields"), _(
        "An approver of the providing department approved a suspended grant again for the dataset's current "
        "version (with the fields that still exist).")
    GRANT_REVOKED = "grant.revoked", "grant", ("dataset", "consumer", "reason"), _(
        "An approver of the providing department revoked a grant; reads under it are refused from the next call.")
    RECORD_READ = "record.read", "dataset", ("keyid", "claimed_system", "fields", "record_version", "masking"), _(
        "A system read a record through the signed API, or was refused (outcome and reason say which). "
        "masking names the fields served masked and how.")
    RECORDS_LISTED = "records.listed", "dataset", ("keyid", "fields", "filters", "count", "masking"), _(
        "A system listed a page of a dataset's records under a grant (filters names the fields filtered on, "
        "never their values; count the records served), or was refused.")
    RECORDS_LOOKED_UP = "records.looked_up", "dataset", ("keyid", "fields", "asked", "count", "masking"), _(
        "A system looked up to 1,000 records by key in one call (asked keys, count found); subjects lists every "
        "person or company asked about, or it was refused.")
    GRANTS_LISTED = "grants.listed", "system", ("keyid", "count"), _(
        "A system asked which grants it holds (count of grants listed), or was refused.")
    RECORDS_PUSHED = "records.pushed", "dataset", (
        "keyid", "batch_id", "body_digest", "upserted", "deleted", "not_found", "replayed"), _(
        "The providing department's system pushed a batch of records (upserted, deleted, not_found counts; the "
        "body's SHA-256; replayed when the same batch came again and nothing was written), or was refused.")
    EXPORT_REQUESTED = "export.requested", "dataset", ("keyid", "export", "format", "fields", "rows", "masking"), _(
        "A system asked for a bulk export of a dataset under a grant (the records count against its daily quota), "
        "or was refused.")
    EXPORT_STATUS = "export.status", "export", ("keyid", "export", "state"), _(
        "A system asked for the progress of its export, or was refused.")
    EXPORT_COMPLETED = "export.completed", "dataset", (
        "export", "format", "fields", "rows", "file_digest", "file_size", "subjects_listed", "masking"), _(
        "The platform made an export's file: its SHA-256 and size, the records, and the subjects in it (listed up "
        "to 10,000; subjects_listed says whether they are).")
    EXPORT_DOWNLOADED = "export.downloaded", "dataset", ("export", "system", "file_digest", "source"), _(
        "An export's file was downloaded, once, through its signed link (the file's SHA-256, the address).")
    API_NOT_FOUND = "api.not_found", "address", ("keyid", "source"), _(
        "A verified system called an address of the API that does not exist (refused, 404).")
    OPEN_DATA_READ = "open_data.read", "dataset", (
        "keyid", "source", "operation", "fields", "record_version", "filters", "count", "asked", "masking"), _(
        "Open data was read through the exchange API, signed (keyid) or not (source address); operation says "
        "whether one record, a page or a lookup.")
    EXCHANGE_REFUSALS = "exchange.refusals", "source", (
        "source", "count", "reasons", "window_start", "window_seconds", "first_at", "last_at", "first_digest",
        "last_digest"), _(
        "The exchange refused a caller it could not verify (bad or missing signature, malformed request) or one "
        "over its rate limit, count times in one window from one source address: one event per source and "
        "window, with the first and last request digests, so a flood is evidenced without growing the log "
        "without bound.")


_BY_ACTION: dict[str, EventType] = {event_type.action: event_type for event_type in EventType}


def event_type_of(action: str) -> EventType | None:
    """The declared type of a stored event's action (None for an action no longer declared)."""
    return _BY_ACTION.get(action)
