"""The admin's import pages: upload, the dry run's report, apply, progress, templates, a schema from a file."""

import datetime as dt
import io
import threading
import time
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from catalog.imports.services import import_apply_start, import_check, import_upload, imports_dir
from catalog.models import (
    Dataset,
    DatasetStatus,
    Field,
    FieldType,
    ImportJob,
    ImportMode,
    ImportRow,
    ImportState,
    Record,
    Sensitivity,
)
from tests.catalog.conftest_imports import (
    VACCINATION_HEADER,
    csv_bytes,
    damaged_xlsx_bytes,
    records_of,
    resident_id,
)
from tests.conftest import RECORD_KEY, events_but_sign_ins

pytestmark = pytest.mark.django_db

GOOD = csv_bytes(VACCINATION_HEADER, f"{RECORD_KEY},Li Wei,hepatitis-b,2026-04-01",
                 "110101199003070022,Wang Fang,measles,2026-04-02")


def import_url(dataset: Dataset) -> str:
    return reverse("admin:catalog_dataset_import", args=[dataset.pk])


def job_url(job: ImportJob) -> str:
    return reverse("admin:catalog_dataset_import_job", args=[job.dataset_id, job.pk])


def upload(http: Client, dataset: Dataset, content: bytes, name: str = "records.csv",
           mode: str = ImportMode.UPSERT) -> Any:
    return http.post(import_url(dataset), {"file": SimpleUploadedFile(name, content), "mode": mode})


@pytest.fixture
def clerk(client: Client, health_clerk: Any) -> Client:
    client.force_login(health_clerk)
    return client


def test_the_upload_page_shows_the_expected_header_and_the_templates(clerk: Client, vaccinations: Dataset) -> None:
    page = clerk.get(import_url(vaccinations))
    assert page.status_code == 200
    html = page.content.decode()
    assert "citizen_id,full_name,vaccine,dose_date" in html
    assert reverse("admin:catalog_dataset_import_template", args=[vaccinations.pk, "xlsx"]) in html


def test_a_good_file_is_checked_then_loaded_when_the_clerk_applies_it(clerk: Client, vaccinations: Dataset) -> None:
    response = upload(clerk, vaccinations, GOOD)
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == job_url(job)
    page = clerk.get(job_url(job)).content.decode()
    assert "The file has no problem: 2 rows can be loaded." in page
    assert "<li>New keys: 1</li>" in page and "(their records are replaced): 1</li>" in page
    assert Record.objects.get(dataset=vaccinations, key=RECORD_KEY).version == 1  # nothing loaded yet
    response = clerk.post(job_url(job), {"action": "apply", "mode": ImportMode.REPLACE})
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.state, job.mode, job.created, job.updated) == (ImportState.APPLIED, "replace", 1, 1)
    assert [key for key, _data, _version in records_of(vaccinations)] == [RECORD_KEY, "110101199003070022"]
    assert "1 new, 1 updated, 0 deleted." in clerk.get(job_url(job)).content.decode()
    assert [e.action for e in events_but_sign_ins().order_by("id")] == ["records.checked", "records.imported"]


def test_a_bad_file_shows_its_report_with_masked_personal_values(clerk: Client, vaccinations: Dataset) -> None:
    before = records_of(vaccinations)
    upload(clerk, vaccinations, csv_bytes(VACCINATION_HEADER, "110101199003070022,Wang Fang,measles,2026-04-02",
                                          "110101199003070022,Zhao Lei,measles,April 2nd"))
    page = clerk.get(job_url(ImportJob.objects.get())).content.decode()
    assert "Nothing can be loaded from this file: 2 problems." in page
    assert "<td>3</td><td>dose_date</td><td>April 2nd</td><td>Wrong type</td>" in page
    assert "<td>3</td><td>citizen_id</td><td>1101**********0022</td><td>Duplicate key</td>" in page
    assert "110101199003070022" not in page
    assert 'value="apply"' not in page
    assert records_of(vaccinations) == before


def test_an_xlsx_file_is_uploaded_and_checked(clerk: Client, vaccinations: Dataset) -> None:
    from tests.catalog.conftest_imports import xlsx_bytes

    content = xlsx_bytes([VACCINATION_HEADER.split(","), [RECORD_KEY, "Li Wei", "=A2", "2026-04-01"]])
    upload(clerk, vaccinations, content, "records.xlsx")
    page = clerk.get(job_url(ImportJob.objects.get())).content.decode()
    assert "<td>2</td><td>vaccine</td><td>=A2</td><td>Formula cell</td>" in page


def test_a_second_apply_into_the_same_dataset_answers_409(clerk: Client, vaccinations: Dataset,
                                                          health_clerk: Any) -> None:
    first = import_check(job=import_upload(dataset=vaccinations, actor=health_clerk, source=GOOD))
    import_apply_start(job=first, actor=health_clerk, mode=ImportMode.UPSERT)  # its worker is still busy
    upload(clerk, vaccinations, GOOD)
    second = ImportJob.objects.exclude(pk=first.pk).get()
    response = clerk.post(job_url(second), {"action": "apply", "mode": ImportMode.UPSERT})
    assert response.status_code == 409
    assert "Another file is being loaded into vaccinations" in response.content.decode()
    second.refresh_from_db()
    assert second.state == ImportState.CHECKED


def test_a_checked_file_can_be_discarded_from_its_page(clerk: Client, vaccinations: Dataset) -> None:
    upload(clerk, vaccinations, GOOD)
    job = ImportJob.objects.get()
    assert clerk.post(job_url(job), {"action": "discard"}).status_code == 302
    job.refresh_from_db()
    assert job.state == ImportState.DISCARDED


def test_a_refusal_of_the_service_is_a_form_error(clerk: Client, vaccinations: Dataset) -> None:
    Field.objects.filter(dataset=vaccinations).update(is_lookup_key=False)
    response = upload(clerk, vaccinations, GOOD)
    assert response.status_code == 400 and "mark one as the lookup key" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_file_of_another_format_is_refused(clerk: Client, vaccinations: Dataset) -> None:
    response = upload(clerk, vaccinations, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "old.xls")
    assert response.status_code == 400 and "must be saved as .xlsx" in response.content.decode()


def test_the_progress_view_answers_json(clerk: Client, vaccinations: Dataset) -> None:
    upload(clerk, vaccinations, GOOD)
    job = ImportJob.objects.get()
    progress = clerk.get(reverse("admin:catalog_dataset_import_progress", args=[vaccinations.pk, job.pk])).json()
    assert progress == {"state": "checked", "label": "Checked", "done": len(GOOD), "total": len(GOOD),
                        "percent": 100, "rows": 2, "problems": 0, "running": False}


@pytest.fixture
def stopped_load(vaccinations: Dataset, health_clerk: Any) -> ImportJob:
    """A load whose worker died (a restart killed its thread) after staging part of the next generation."""
    job = import_apply_start(job=import_check(job=import_upload(dataset=vaccinations, actor=health_clerk,
                                                                source=GOOD)), actor=health_clerk,
                             mode=ImportMode.UPSERT)
    staged = vaccinations.records_generation + 1
    Record.objects.create(dataset=vaccinations, generation=staged, key="half", data={})
    ImportJob.objects.filter(pk=job.pk).update(generation=staged, progress_done=1,
                                               heartbeat_at=timezone.now() - dt.timedelta(minutes=11))
    return job


@pytest.mark.parametrize("view", ["page", "progress"])
def test_a_load_whose_worker_stopped_is_failed_when_it_is_looked_at(clerk: Client, vaccinations: Dataset,
                                                                    stopped_load: ImportJob, view: str) -> None:
    before = records_of(vaccinations)
    if view == "page":
        html = clerk.get(job_url(stopped_load)).content.decode()
        assert "made no progress for 10 minutes" in html
        assert f'id="import-upload-again" href="{import_url(vaccinations)}"' in html
        assert 'id="import-progress"' not in html
    else:
        progress = clerk.get(reverse("admin:catalog_dataset_import_progress",
                                     args=[vaccinations.pk, stopped_load.pk])).json()
        assert (progress["state"], progress["running"]) == ("failed", False)
    stopped_load.refresh_from_db()
    assert stopped_load.state == ImportState.FAILED
    assert stopped_load.error == ("It made no progress for 10 minutes (its worker stopped); nothing of it was "
                                  "loaded. Upload the file again to load it.")
    assert records_of(vaccinations) == before  # the served generation is untouched
    assert not Record.objects.filter(key="half").exists() and not ImportRow.objects.filter(job=stopped_load).exists()
    assert AuditEvent.objects.get(action="records.import_failed").detail["job"] == stopped_load.pk
    # The dataset is free again: the same file loads.
    assert upload(clerk, vaccinations, GOOD).status_code == 302
    job = ImportJob.objects.exclude(pk=stopped_load.pk).get()
    assert clerk.post(job_url(job), {"action": "apply", "mode": ImportMode.UPSERT}).status_code == 302
    job.refresh_from_db()
    assert job.state == ImportState.APPLIED


def test_a_load_that_is_making_progress_is_left_alone(clerk: Client, vaccinations: Dataset,
                                                      stopped_load: ImportJob) -> None:
    ImportJob.objects.filter(pk=stopped_load.pk).update(heartbeat_at=timezone.now() - dt.timedelta(minutes=9))
    html = clerk.get(job_url(stopped_load)).content.decode()
    assert 'id="import-progress"' in html
    stopped_load.refresh_from_db()
    assert stopped_load.state == ImportState.APPLYING and Record.objects.filter(key="half").exists()


# --- Who may ---

def all_urls(dataset: Dataset, job: ImportJob) -> list[str]:
    return [import_url(dataset), job_url(job),
            reverse("admin:catalog_dataset_import_progress", args=[dataset.pk, job.pk])]


def test_a_clerk_of_another_department_gets_404_for_a_draft(client: Client, police_clerk: Any,
                                                             vaccinations: Dataset, health_clerk: Any) -> None:
    Dataset.objects.filter(pk=vaccinations.pk).update(status=DatasetStatus.DRAFT)
    job = import_check(job=import_upload(dataset=vaccinations, actor=health_clerk, source=GOOD))
    client.force_login(police_clerk)
    for url in [*all_urls(vaccinations, job),
                reverse("admin:catalog_dataset_import_template", args=[vaccinations.pk, "csv"])]:
        assert client.get(url).status_code == 404, url
    assert upload(client, vaccinations, GOOD).status_code == 404
    assert client.post(job_url(job), {"action": "apply", "mode": "upsert"}).status_code == 404
    job.refresh_from_db()
    assert job.state == ImportState.CHECKED


def test_a_clerk_of_another_department_gets_403_for_a_published_dataset(client: Client, police_clerk: Any,
                                                                        vaccinations: Dataset,
                                                                        health_clerk: Any) -> None:
    """Everyone sees the published catalogue, and may take its template; only the owner's clerks load."""
    job = import_check(job=import_upload(dataset=vaccinations, actor=health_clerk, source=GOOD))
    client.force_login(police_clerk)
    for url in all_urls(vaccinations, job):
        assert client.get(url).status_code == 403, url
    assert upload(client, vaccinations, GOOD).status_code == 403
    assert client.post(job_url(job), {"action": "apply", "mode": "upsert"}).status_code == 403
    assert client.get(reverse("admin:catalog_dataset_import_template", args=[vaccinations.pk, "csv"])
                      ).status_code == 200
    job.refresh_from_db()
    assert job.state == ImportState.CHECKED


@pytest.mark.parametrize("actor", ["health_approver", "auditor"])
def test_those_who_may_only_look_get_403(client: Client, actor: str, vaccinations: Dataset, health_clerk: Any,
                                         request: pytest.FixtureRequest) -> None:
    job = import_check(job=import_upload(dataset=vaccinations, actor=health_clerk, source=GOOD))
    client.force_login(request.getfixturevalue(actor))
    for url in all_urls(vaccinations, job):
        assert client.get(url).status_code == 403, url
    response = client.post(job_url(job), {"action": "apply", "mode": "upsert"})
    assert response.status_code == 403
    assert "Only clerks of Health Commission may load records into vaccinations." in response.content.decode()
    assert upload(client, vaccinations, GOOD).status_code == 403
    assert ImportJob.objects.count() == 1 and Record.objects.filter(dataset=vaccinations).count() == 1


def test_the_pages_need_a_login(client: Client, vaccinations: Dataset) -> None:
    response = client.get(import_url(vaccinations))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_job_of_another_dataset_is_404(clerk: Client, vaccinations: Dataset, health_clerk: Any,
                                         health: Any) -> None:
    from tests.conftest import build_dataset

    other = build_dataset(health, identifier="boosters")
    job = import_check(job=import_upload(dataset=other, actor=health_clerk, source=GOOD))
    assert clerk.get(reverse("admin:catalog_dataset_import_job", args=[vaccinations.pk, job.pk])).status_code == 404


# --- Templates ---

def test_the_csv_template_has_the_header_and_a_sample_row_by_type(clerk: Client, vaccinations: Dataset) -> None:
    response = clerk.get(reverse("admin:catalog_dataset_import_template", args=[vaccinations.pk, "csv"]))
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="vaccinations-template.csv"' in response["Content-Disposition"]
    assert response.content.decode("utf-8") == ("\ufeffcitizen_id,full_name,vaccine,dose_date\r\n"
                                                "example,example,example,2026-01-31\r\n")


def test_the_xlsx_template_has_typed_sample_cells(clerk: Client, health: Any) -> None:
    from openpyxl import load_workbook

    dataset = Dataset.objects.create(owner=health, identifier="clinics", title="Clinics")
    for i, (name, type_) in enumerate([("code", FieldType.STRING), ("beds", FieldType.INTEGER),
                                       ("area", FieldType.NUMBER), ("open", FieldType.BOOLEAN),
                                       ("since", FieldType.DATE)]):
        Field.objects.create(dataset=dataset, name=name, type=type_, position=i, is_lookup_key=i == 0,
                             description="诊所编码" if i == 0 else "")
    response = clerk.get(reverse("admin:catalog_dataset_import_template", args=[dataset.pk, "xlsx"]))
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert [c.value for c in sheet[1]] == ["code", "beds", "area", "open", "since"]
    assert [c.value for c in sheet[2]][:4] == ["example", 42, 3.5, True]
    assert sheet["E2"].value.date().isoformat() == "2026-01-31"
    assert sheet["A2"].number_format == "@" and sheet["A1"].comment.text == "诊所编码"


def test_the_template_loads_back_as_its_sample_row(clerk: Client, vaccinations: Dataset, health_clerk: Any) -> None:
    for fmt in ("csv", "xlsx"):
        content = clerk.get(reverse("admin:catalog_dataset_import_template", args=[vaccinations.pk, fmt])).content
        job = import_check(job=import_upload(dataset=vaccinations, actor=health_clerk, source=content,
                                             file_name=f"t.{fmt}"))
        assert (job.rows, job.problems) == (1, 0), fmt


# --- A new dataset from a file ---

PROPOSE_FILE = ("身份证号,姓名,疫苗,接种日期\n" + "".join(
    f"{resident_id(i)},{name},乙肝疫苗,2026-04-0{i + 1}\n" for i, name in enumerate(["李伟", "王芳", "张敏"]))
).encode("gbk")


PROPOSE_URL = "admin:catalog_dataset_propose"


def proposed(clerk: Client, health: Any) -> tuple[Any, dict[str, Any]]:
    """Upload PROPOSE_FILE for a proposal: the page, and the confirmation as the clerk would send it."""
    page = clerk.post(reverse(PROPOSE_URL), {"step": "upload", "owner": health.pk,
                                             "file": SimpleUploadedFile("接种记录.csv", PROPOSE_FILE)})
    assert page.status_code == 200
    data = {"step": "confirm", "token": page.context["dataset_form"].initial["token"], "owner": health.pk,
            "identifier": "vaccination-log", "title": "接种记录", "tier": "conditional", "legal_basis": "疫苗管理法",
            "personal_data": "on", "key": "0", "form-TOTAL_FORMS": "4", "form-INITIAL_FORMS": "4",
            "form-MIN_NUM_FORMS": "0", "form-MAX_NUM_FORMS": "1000"}
    for i, initial in enumerate(page.context["formset"].initial):
        data |= {f"form-{i}-{k}": ("on" if v is True else v) for k, v in initial.items() if v is not False}
    return page, data


def test_a_schema_is_proposed_from_a_file_and_confirmed(clerk: Client, health: Any) -> None:
    url = reverse(PROPOSE_URL)
    assert clerk.get(url).status_code == 200
    page, data = proposed(clerk, health)
    html = page.content.decode()
    assert "Some columns look like citizens' personal information" in html
    assert "resident identity numbers" in html and "personal names" in html
    del data["form-2-include"]  # the clerk leaves the vaccine column out
    response = clerk.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    dataset = Dataset.objects.get(identifier="vaccination-log")
    assert (dataset.status, dataset.personal_data, dataset.owner) == (DatasetStatus.DRAFT, True, health)
    assert [(f.name, f.type, f.sensitivity, f.is_lookup_key, f.is_subject_identifier, f.description)
            for f in dataset.fields.all()] == [
        ("citizen_id", "string", Sensitivity.PERSONAL, True, True, "身份证号"),
        ("full_name", "string", Sensitivity.PERSONAL, False, False, "姓名"),
        ("column_4", "date", Sensitivity.INTERNAL, False, False, "接种日期")]
    job = ImportJob.objects.get(dataset=dataset)
    assert response["Location"] == job_url(job)
    assert (job.state, job.rows, job.problems, job.encoding) == (ImportState.CHECKED, 3, 0, "gbk")
    assert job.columns == ["citizen_id", "full_name", "", "column_4"]
    assert [e.action for e in events_but_sign_ins().order_by("id")] == ["dataset.registered", "records.checked"]


def test_a_proposal_token_of_another_person_is_not_accepted(clerk: Client, health: Any, client: Client) -> None:
    from django.core import signing

    token = signing.dumps({"stored_name": "x", "file_name": "x.csv", "size": 1, "digest": "0", "format": "csv",
                           "user": 999}, salt="catalog.imports.propose")
    data = {"step": "confirm", "token": token, "owner": health.pk, "identifier": "x", "title": "x",
            "tier": "unconditional", "key": "0", "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1",
            "form-0-include": "on", "form-0-name": "code", "form-0-type": "string",
            "form-0-sensitivity": "internal"}
    assert clerk.post(reverse("admin:catalog_dataset_propose"), data).status_code == 404
    assert not Dataset.objects.filter(identifier="x").exists()


def _token_aged(token: str, days: int) -> str:
    """The same proposal, signed ``days`` ago."""
    from django.core import signing

    payload = signing.loads(token, salt="catalog.imports.propose")
    signed_at = signing.b62_encode(int(time.time()) - days * 86400)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(signing.TimestampSigner, "timestamp", lambda self: signed_at)
        return signing.dumps(payload, salt="catalog.imports.propose")


@pytest.mark.parametrize(("change", "message"), [
    ("altered", "This proposal is more than a day old or was altered; upload the file again."),
    ("old", "This proposal is more than a day old or was altered; upload the file again."),
    ("purged", "The uploaded file is no longer kept (a file waits a day at most for its proposal to be confirmed); "
               "upload it again."),
])
def test_a_proposal_that_cannot_be_confirmed_says_so_on_the_form(clerk: Client, health: Any, change: str,
                                                                 message: str) -> None:
    page, data = proposed(clerk, health)
    if change == "altered":
        data["token"] = data["token"].replace(":", ":x", 1)
    elif change == "old":
        data["token"] = _token_aged(data["token"], days=2)
    else:  # the day-old uploads were purged meanwhile
        (imports_dir() / page.context["stored"].stored_name).unlink()
    response = clerk.post(reverse(PROPOSE_URL), data)
    assert response.status_code == 400
    assert response.context["dataset_form"].non_field_errors() == [message]
    html = response.content.decode()
    assert f'<a href="{reverse(PROPOSE_URL)}">Upload a file again</a>' in html
    assert not Dataset.objects.filter(identifier="vaccination-log").exists() and not ImportJob.objects.exists()


def test_a_damaged_workbook_is_refused_at_the_proposal_with_what_to_do(clerk: Client, health: Any) -> None:
    waiting = set(imports_dir().iterdir()) if imports_dir().exists() else set()
    response = clerk.post(reverse(PROPOSE_URL), {"step": "upload", "owner": health.pk,
                                                 "file": SimpleUploadedFile("接种记录.xlsx", damaged_xlsx_bytes())})
    assert response.status_code == 400
    [error] = response.context["upload_form"].non_field_errors()
    assert error.startswith("The file is damaged from line ") and error.endswith(
        ": save it again from Excel (.xlsx) and upload it again.")
    assert error in response.content.decode()
    assert set(imports_dir().iterdir()) == waiting  # the refused file is not kept


def test_only_clerks_may_propose_a_dataset(client: Client, health_approver: Any) -> None:
    client.force_login(health_approver)
    assert client.get(reverse("admin:catalog_dataset_propose")).status_code == 403


# --- Large files: a background check with a progress bar ---

@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not settings.CELERY_TASK_ALWAYS_EAGER, reason="with a broker a worker runs it "
                                                                  "(test_import_worker.py)")
def test_a_large_file_is_checked_and_loaded_in_the_background(client: Client, health_clerk: Any,
                                                              vaccinations: Dataset, settings: Any) -> None:
    """In the embedded default a thread of the web process does the work; the page shows its progress."""
    settings.IMPORT_INLINE_MAX_BYTES = 0
    client.force_login(health_clerk)
    upload(client, vaccinations, GOOD)
    job = ImportJob.objects.get()
    progress_url = reverse("admin:catalog_dataset_import_progress", args=[vaccinations.pk, job.pk])

    def wait_for(state: str) -> dict:
        deadline = time.monotonic() + 30
        while (progress := client.get(progress_url).json())["state"] != state and time.monotonic() < deadline:
            assert progress["state"] != "failed"
            time.sleep(0.05)
        return progress

    page = client.get(job_url(job)).content.decode()
    job.refresh_from_db()  # the state after the page was made: still running then means it showed the progress
    if job.state in (ImportState.UPLOADED, ImportState.CHECKING):  # the thread may have finished already
        assert 'id="import-progress"' in page and "import_progress.js" in page
    assert wait_for("checked")["rows"] == 2
    client.post(job_url(job), {"action": "apply", "mode": ImportMode.UPSERT})
    assert wait_for("applied")["done"] == 2
    assert records_of(vaccinations)[0][2] == 2
    for thread in threading.enumerate():  # it deletes the old generation after a grace: let it finish
        if thread.name.startswith(f"import-{job.pk}-"):
            thread.join(timeout=30)
