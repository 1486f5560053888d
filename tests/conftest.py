"""Shared actors and helpers: the Health department publishes, the Police department's system reads."""

import datetime as dt
import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.test import Client
from django.test.testcases import LiveServerThread, _StaticFilesHandler
from django.utils import translation

from audit.models import AuditEvent
from catalog.models import Dataset, DatasetStatus, Field, FieldType, Record, Sensitivity, Tier
from core.keys import platform_key_generate
from exchange import client as consumer
from exchange.models import Grant
from govplatform.rawuri import RawURIThreadedWSGIServer
from registry.models import Department, Membership, PlatformRole, PlatformRoleName, Role, System, SystemKey
from registry.nonces import redis_client
from registry.ratelimit import rate_limits_reset
from registry.versions import memos_clear

RECORD_KEY = "110101199003070011"
POLICE_KEY_ID = "police-rms-1"


@pytest.fixture(scope="session")
def platform_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("platform") / "platform-signing-key.pem"
    platform_key_generate(path)
    return path


@pytest.fixture(autouse=True)
def _platform_key(settings: Any, platform_key_file: Path) -> None:
    settings.PLATFORM_SIGNING_KEY_FILE = platform_key_file


@pytest.fixture(autouse=True)
def _nothing_remembered_across_tests() -> Iterator[None]:
    """Rolled-back tests reuse access-version numbers: no test may see another's remembered keys."""
    memos_clear()
    yield
    memos_clear()


@pytest.fixture(autouse=True)
def _rate_limits_start_afresh() -> None:
    """Every test starts with no requests counted against the exchange's rate limits (in memory or in the
    test Redis database), so only a test that means to reach a limit reaches it."""
    rate_limits_reset()
    if settings.NONCE_STORE == "redis":
        client = redis_client()
        for key in client.scan_iter("rate:*"):
            client.delete(key)


@pytest.fixture(autouse=True)
def _the_seeded_purposes(request: pytest.FixtureRequest) -> None:
    """The purpose vocabulary a migration seeds, for every test with a database: a transactional test's flush
    empties the tables the migrations filled, so the next one puts them back."""
    if not request.node.get_closest_marker("django_db") and not {"db", "transactional_db"} & set(
            request.fixturenames):
        return
    request.getfixturevalue("transactional_db" if _is_transactional(request) else "db")
    from exchange.models import Purpose

    if not Purpose.objects.exists():
        seeded = importlib.import_module("exchange.migrations.0006_purpose_vocabulary").PURPOSES
        Purpose.objects.bulk_create([Purpose(code=code, label_zh=zh, label_en=en) for code, zh, en in seeded])


def _is_transactional(request: pytest.FixtureRequest) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0]))) or (
        "transactional_db" in request.fixturenames or "live_server" in request.fixturenames)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Test users need passwords, not slow ones."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _a_checkpoint_after_every_sequencer_batch(settings: Any) -> None:
    """Tests look at the checkpoint of the events they just recorded; the cadence has its own test
    (tests/audit/test_log.py)."""
    settings.AUDIT_CHECKPOINT_INTERVAL = 0


@pytest.fixture(autouse=True)
def _password_alone_unless_a_test_asks(settings: Any) -> None:
    """Most tests sign people in with force_login and are about other things; the second factor's own tests
    (tests/registry/test_second_factor.py) turn the platform's default back on with ``second_factor``."""
    settings.TWO_FACTOR_REQUIRED = False


@pytest.fixture
def second_factor(settings: Any) -> bool:
    """The platform's default: approvers, auditors, department admins and platform roles need a second factor."""
    from govplatform import settings as platform_settings

    settings.TWO_FACTOR_REQUIRED = platform_settings.TWO_FACTOR_REQUIRED
    return settings.TWO_FACTOR_REQUIRED


@pytest.fixture(autouse=True)
def _english_unless_a_test_asks(settings: Any) -> Iterator[None]:
    """Tests assert the English source strings; the ones about languages restore the platform's default
    (Simplified Chinese) with the ``platform_language`` fixture."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def platform_language(settings: Any) -> Iterator[str]:
    """The platform's own default language, as a fresh deployment has it (not the tests' English)."""
    from govplatform import settings as platform_settings

    settings.LANGUAGE_CODE = platform_settings.LANGUAGE_CODE
    with translation.override(platform_settings.LANGUAGE_CODE):
        yield platform_settings.LANGUAGE_CODE


@contextmanager
def audit_inserts_refused() -> Iterator[None]:
    """The database refuses every audit insert (a real trigger, not a mock), as a full disk would."""
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgres:
            cursor.execute("CREATE FUNCTION test_refuse() RETURNS trigger AS $$ BEGIN "
                           "RAISE EXCEPTION 'audit disk full'; END; $$ LANGUAGE plpgsql")
            cursor.execute("CREATE TRIGGER test_refuse BEFORE INSERT ON audit_auditevent "
                           "FOR EACH ROW EXECUTE FUNCTION test_refuse()")
        else:
            cursor.execute("CREATE TRIGGER test_refuse BEFORE INSERT ON audit_auditevent "
                           "BEGIN SELECT RAISE(ABORT, 'audit disk full'); END")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER test_refuse" + (" ON audit_auditevent" if postgres else ""))
            if postgres:
                cursor.execute("DROP FUNCTION test_refuse()")


def events_but_sign_ins() -> Any:
    """Audit events other than signing in and out (a test client's login is evidence too)."""
    return AuditEvent.objects.exclude(object_type="user")


def make_user(username: str, department: Department | None, *roles: str) -> Any:
    user = get_user_model().objects.create_user(username=username, password="correct horse battery staple",
                                                is_staff=True)
    for role in roles:
        Membership.objects.create(user=user, department=department, role=role)
    return user


@pytest.fixture
def health(db: None) -> Department:
    return Department.objects.create(code="health", name="Health Commission")


@pytest.fixture
def police(db: None) -> Department:
    return Department.objects.create(code="police", name="Public Security Bureau")


@pytest.fixture
def audit_office(db: None) -> Department:
    return Department.objects.create(code="audit-office", name="Audit Office")


@pytest.fixture
def health_clerk(health: Department) -> Any:
    return make_user("health-clerk", health, Role.CLERK)


@pytest.fixture
def health_approver(health: Department) -> Any:
    return make_user("health-approver", health, Role.APPROVER)


@pytest.fixture
def police_clerk(police: Department) -> Any:
    return make_user("police-clerk", police, Role.CLERK)


@pytest.fixture
def auditor(audit_office: Department) -> Any:
    return make_user("auditor", audit_office, Role.AUDITOR)


@pytest.fixture
def root(db: None) -> Any:
    """A platform superuser (no department roles)."""
    user = make_user("root", None)
    user.is_superuser = True
    user.save()
    return user


@pytest.fixture
def police_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def police_system(police: Department) -> System:
    return System.objects.create(department=police, code="police-rms", name="Police records system")


@pytest.fixture
def police_key(police_system: System, police_private_key: Ed25519PrivateKey) -> SystemKey:
    return SystemKey.objects.create(system=police_system, key_id=POLICE_KEY_ID,
                                    public_key=consumer.public_pem(police_private_key.public_key()))


#: What the admin's dataset form posts for the metadata a test does not care about (the model's defaults).
DATASET_FORM_DEFAULTS = {"sharing_method": "api", "grade": "general", "resource_category": "departmental",
                         "resource_format": "database", "update_frequency": "IRREG", "language": "ZHO",
                         "personal_data": "on"}


def build_dataset(owner: Department, *, identifier: str = "vaccinations", status: str = DatasetStatus.PUBLISHED,
                  tier: str = Tier.CONDITIONAL) -> Dataset:
    dataset = Dataset.objects.create(owner=owner, identifier=identifier, title="Vaccinations", tier=tier,
                                     description="Vaccinations given in the city, one row per person.",
                                     status=status, legal_basis="Vaccine Administration Law", personal_data=True)
    for i, (name, type_, sens, key) in enumerate([
        ("citizen_id", FieldType.STRING, Sensitivity.PERSONAL, True),
        ("full_name", FieldType.STRING, Sensitivity.PERSONAL, False),
        ("vaccine", FieldType.STRING, Sensitivity.INTERNAL, False),
        ("dose_date", FieldType.DATE, Sensitivity.INTERNAL, False),
    ]):
        Field.objects.create(dataset=dataset, name=name, type=type_, sensitivity=sens, is_lookup_key=key,
                             is_subject_identifier=key, position=i)
    return dataset


@pytest.fixture
def vaccinations(health: Department) -> Dataset:
    dataset = build_dataset(health)
    Record.objects.create(dataset=dataset, key=RECORD_KEY, data={
        "citizen_id": RECORD_KEY, "full_name": "Li Wei", "vaccine": "hepatitis-b", "dose_date": "2026-03-01"})
    return dataset


@pytest.fixture
def police_grant(vaccinations: Dataset, police_system: System) -> Grant:
    now = dt.datetime.now(dt.UTC)
    return Grant.objects.create(consumer=police_system, dataset=vaccinations, allowed_fields=["vaccine", "dose_date"],
                                purpose_code="public-health.tracing", purpose="Outbreak tracing",
                                valid_from=now - dt.timedelta(minutes=1), valid_until=now + dt.timedelta(days=30))


def signed_headers(url: str, private_key: Ed25519PrivateKey, key_id: str = POLICE_KEY_ID, **kwargs: Any) -> dict:
    message = consumer.sign_request(consumer.Message("GET", url), private_key=private_key, key_id=key_id, **kwargs)
    return dict(message.headers)


def record_path(key: str = RECORD_KEY, dataset: str = "vaccinations", query: str = "") -> str:
    return f"/api/v1/datasets/{dataset}/records/{key}" + (f"?{query}" if query else "")


def signed_post(path: str, body: Any, private_key: Ed25519PrivateKey, key_id: str = POLICE_KEY_ID, *,
                raw: bytes | None = None, sent: bytes | None = None) -> Any:
    """POST JSON through the Django test client, signed with content-digest covered: ``raw`` (the body as JSON
    unless given) is signed, ``sent`` (the same unless given, e.g. a body tampered after signing) is sent."""
    raw = raw if raw is not None else orjson.dumps(body)
    message = consumer.sign_request(consumer.Message("POST", f"http://testserver{path}",
                                                     {"Content-Type": "application/json"}),
                                    private_key=private_key, key_id=key_id, body=raw)
    response = Client().post(path, data=sent if sent is not None else raw, content_type="application/json",
                             headers=dict(message.headers))
    response.sent_headers, response.sent_url = dict(message.headers), f"http://testserver{path}"
    return response


@pytest.fixture
def signed_get(police_private_key: Ed25519PrivateKey) -> Any:
    """GET a path through the Django test client, signed with the police key (or as told)."""
    http = Client()

    def get(path: str, *, private_key: Ed25519PrivateKey | None = None, key_id: str = POLICE_KEY_ID,
            headers: dict | None = None, **sign_kwargs: Any) -> Any:
        if headers is None:
            headers = signed_headers(f"http://testserver{path}", private_key or police_private_key, key_id,
                                     **sign_kwargs)
        response = http.get(path, headers=headers)
        response.sent_headers, response.sent_url = headers, f"http://testserver{path}"
        return response

    return get


@pytest.fixture
def authority(db: None) -> Any:
    """The platform's data authority (数据主管部门): overdue requests escalate to it."""
    user = make_user("data-authority", None)
    PlatformRole.objects.create(user=user, role=PlatformRoleName.DATA_AUTHORITY)
    return user


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Celery runs tasks in-process, as in the embedded default, also when REDIS_URL names a broker."""
    from govplatform.celery_app import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = before


def database_env() -> dict[str, str]:
    """The environment that points another process at this test database."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return {"SQLITE_PATH": str(db["NAME"])}
    user, host, port = db.get("USER") or "postgres", db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return {"DATABASE_URL": f"postgres://{user}@{host}:{port}/{db['NAME']}"}


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


requires_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL")


class RawURILiveServerThread(LiveServerThread):
    server_class = RawURIThreadedWSGIServer


@pytest.fixture
def raw_live_server(transactional_db: None) -> Iterator[str]:
    """Django's live server thread on the test database, passing the raw request-target on (as runserver and
    gunicorn do here), so signatures over any percent-encoding verify; its base URL."""
    overrides = {}
    for conn in connections.all():
        if conn.vendor == "sqlite" and conn.is_in_memory_db():
            overrides[conn.alias] = conn
            conn.inc_thread_sharing()
    thread = RawURILiveServerThread("127.0.0.1", _StaticFilesHandler, connections_override=overrides)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    try:
        yield f"http://127.0.0.1:{thread.port}"
    finally:
        thread.terminate()
        for conn in overrides.values():
            conn.dec_thread_sharing()
