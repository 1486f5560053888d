"""A grant's terms: each masking rule, strictness against the dataset's default, pseudonyms, the row filter, and
the approval that sets them."""

import hashlib
from typing import Any

import pytest

from catalog.models import Dataset, Field, FieldType, MaskRule, Record
from core.errors import PlatformError
from exchange.models import Grant, RequestState
from exchange.services import access_request_approve, access_request_file
from exchange.terms import masks_for, pseudonym, record_present, row_filter_q, row_visible, terms_describe, value_mask

pytestmark = pytest.mark.django_db


def field(type_: str = FieldType.STRING, **kwargs: Any) -> Field:
    return Field(name="f", type=type_, **kwargs)


@pytest.mark.parametrize(("value", "keep", "expected"), [
    ("110101199003070011", 3, "110************011"), ("李小明", 1, "李*明"), ("ab", 2, "**"), ("abcd", 2, "****"),
    ("abcde", 2, "ab*de"), ("", 2, ""),
])
def test_partial_keeps_the_first_and_last_characters(value: str, keep: int, expected: str,
                                                     police_grant: Grant) -> None:
    assert value_mask(MaskRule.PARTIAL, value, field(mask_keep=keep), police_grant) == expected


@pytest.mark.parametrize(("type_", "value", "band", "expected"), [
    (FieldType.DATE, "2026-03-01", 10, "2026"), (FieldType.INTEGER, 37, 10, "30-39"),
    (FieldType.INTEGER, -3, 10, "-10--1"), (FieldType.INTEGER, 40, 5, "40-44"), (FieldType.NUMBER, 37.5, 10, "30-40"),
    (FieldType.DATE, "not a date", 10, None), (FieldType.INTEGER, True, 10, None),
])
def test_generalise_turns_a_date_into_its_year_and_a_number_into_a_band(type_: str, value: Any, band: int,
                                                                        expected: Any, police_grant: Grant) -> None:
    assert value_mask(MaskRule.GENERALISE, value, field(type_, mask_band=band), police_grant) == expected


@pytest.mark.parametrize("rule", list(MaskRule))
def test_nothing_stays_nothing_under_every_rule(rule: MaskRule, police_grant: Grant) -> None:
    assert value_mask(rule, None, field(FieldType.STRING, is_subject_identifier=True), police_grant) is None


def test_redact_serves_nothing_and_none_serves_the_value(police_grant: Grant) -> None:
    assert value_mask(MaskRule.REDACT, "Li Wei", field(), police_grant) is None
    assert value_mask(MaskRule.NONE, "Li Wei", field(), police_grant) == "Li Wei"


def other_grant(police_grant: Grant) -> Grant:
    return Grant.objects.create(consumer=police_grant.consumer, dataset=police_grant.dataset,
                                allowed_fields=["citizen_id"], purpose_code="x.y", purpose="Other",
                                valid_from=police_grant.valid_from, valid_until=police_grant.valid_until)


def test_pseudonyms_are_stable_per_grant_and_different_across_grants(police_grant: Grant) -> None:
    first, again = pseudonym(police_grant, "110101199003070011"), pseudonym(police_grant, "110101199003070011")
    assert first == again and first.startswith("ps_") and len(first) == 35
    assert first != pseudonym(other_grant(police_grant), "110101199003070011")
    assert first != pseudonym(police_grant, "110101199003070012")
    assert first[3:] not in hashlib.sha256(b"110101199003070011").hexdigest()  # keyed, not a plain hash


def test_a_renewal_keeps_its_grants_pseudonyms(police_grant: Grant) -> None:
    renewal = Grant.objects.create(consumer=police_grant.consumer, dataset=police_grant.dataset,
                                   allowed_fields=["vaccine"], purpose_code="x.y", purpose="Renewed",
                                   valid_from=police_grant.valid_until, valid_until=police_grant.valid_until,
                                   pseudonym_salt=police_grant.pseudonym_salt)
    assert pseudonym(renewal, "110101199003070011") == pseudonym(police_grant, "110101199003070011")


def test_the_stricter_of_the_grant_and_the_current_default_applies(police_grant: Grant) -> None:
    schema = {f.name: f for f in police_grant.dataset.fields.all()}
    assert masks_for(police_grant, schema) == {"vaccine": "none", "dose_date": "none"}
    police_grant.masking = {"dose_date": MaskRule.GENERALISE}
    assert masks_for(police_grant, schema)["dose_date"] == "generalise"
    schema["dose_date"].masking = MaskRule.REDACT  # the provider tightens the default after a leak
    assert masks_for(police_grant, schema)["dose_date"] == "redact"
    schema["dose_date"].masking = MaskRule.NONE  # loosening the default never loosens the grant
    assert masks_for(police_grant, schema)["dose_date"] == "generalise"
    assert terms_describe(police_grant, schema) == {"masking": {"dose_date": "generalise"}, "row_filter": {}}


def test_a_record_is_presented_masked(police_grant: Grant, vaccinations: Dataset) -> None:
    schema = {f.name: f for f in vaccinations.fields.all()}
    police_grant.masking = {"dose_date": MaskRule.GENERALISE}
    record = Record.objects.get(dataset=vaccinations)
    assert record_present(police_grant, schema, record.data, ["vaccine", "dose_date"]) == {
        "vaccine": "hepatitis-b", "dose_date": "2026"}


@pytest.mark.parametrize(("row_filter", "expected"), [
    ({}, {"a", "b", "c", "d"}), ({"district": ["东城区"]}, {"a", "c"}),
    ({"district": ["东城区", "西城区"]}, {"a", "b", "c"}),
    ({"floor": ["3"]}, {"a", "d"}), ({"floor": ["3"], "district": ["东城区"]}, {"a"}), ({"open": ["true"]}, {"b"}),
    ({"floor": ["3.0"]}, set()),
])
def test_the_row_filter_as_a_query_matches_it_record_by_record(row_filter: dict, expected: set, vaccinations: Dataset,
                                                               police_grant: Grant) -> None:
    rows = {"a": {"district": "东城区", "floor": 3}, "b": {"district": "西城区", "floor": 4, "open": True},
            "c": {"district": "东城区", "floor": None}, "d": {"district": "朝阳区", "floor": "3"}}
    for key, data in rows.items():
        Record.objects.create(dataset=vaccinations, key=key, data=data)
    police_grant.row_filter = row_filter
    in_python = {key for key, data in rows.items() if row_visible(police_grant, data)}
    in_sql = set(Record.objects.filter(dataset=vaccinations, key__in=rows).filter(row_filter_q(police_grant))
                 .values_list("key", flat=True))
    assert in_python == in_sql == expected


# --- The approval sets them --------------------------------------------------------------------------------


@pytest.fixture
def submitted(police_clerk: Any, police_system: Any, vaccinations: Dataset) -> Any:
    return access_request_file(actor=police_clerk, consumer=police_system, dataset=vaccinations,
                               fields=["citizen_id", "vaccine", "dose_date"],
                               purpose_code="law-enforcement.investigation", purpose="Case 7",
                               legal_basis="Criminal Procedure Law art. 54", case_reference="2026-7")


def test_an_approval_with_stricter_masking_or_a_row_filter_is_in_part(submitted: Any, health_approver: Any) -> None:
    grant = access_request_approve(access_request=submitted, approver=health_approver,
                                   masking={"citizen_id": "pseudonym"}, row_filter={"vaccine": ["measles"]})
    submitted.refresh_from_db()
    assert submitted.state == RequestState.APPROVED_IN_PART
    assert grant.masking == {"citizen_id": "pseudonym", "vaccine": "none", "dose_date": "none"}
    assert grant.row_filter == {"vaccine": ["measles"]}
    assert len(grant.pseudonym_salt) == 32


def test_an_approval_as_asked_takes_the_dataset_defaults(submitted: Any, health_approver: Any,
                                                         vaccinations: Dataset) -> None:
    Field.objects.filter(dataset=vaccinations, name="dose_date").update(masking=MaskRule.GENERALISE)
    grant = access_request_approve(access_request=submitted, approver=health_approver)
    submitted.refresh_from_db()
    assert submitted.state == RequestState.APPROVED
    assert grant.masking["dose_date"] == "generalise"


@pytest.mark.parametrize(("masking", "row_filter", "code"), [
    ({"dose_date": "none"}, None, "bad_masking"),  # looser than the default (generalise)
    ({"vaccine": "generalise"}, None, "bad_masking"),  # a text cannot be generalised
    ({"vaccine": "pseudonym"}, None, "bad_masking"),  # not a subject identifier
    ({"full_name": "redact"}, None, "bad_masking"),  # not granted
    ({"vaccine": "blur"}, None, "bad_masking"),
    (None, {"shoe_size": ["42"]}, "bad_row_filter"), (None, {"vaccine": []}, "bad_row_filter"),
])
def test_an_approval_with_bad_terms_is_refused_and_changes_nothing(masking: Any, row_filter: Any, code: str,
                                                                   submitted: Any, health_approver: Any,
                                                                   vaccinations: Dataset) -> None:
    Field.objects.filter(dataset=vaccinations, name="dose_date").update(masking=MaskRule.GENERALISE)
    with pytest.raises(PlatformError) as refused:
        access_request_approve(access_request=submitted, approver=health_approver, masking=masking,
                               row_filter=row_filter)
    assert refused.value.code == code
    submitted.refresh_from_db()
    assert submitted.state == RequestState.SUBMITTED
    assert not Grant.objects.filter(access_request=submitted).exists()


@pytest.mark.parametrize(("type_", "rule", "subject", "ok"), [
    (FieldType.STRING, "partial", False, True), (FieldType.INTEGER, "partial", False, False),
    (FieldType.DATE, "generalise", False, True), (FieldType.STRING, "generalise", False, False),
    (FieldType.STRING, "pseudonym", True, True), (FieldType.STRING, "pseudonym", False, False),
    (FieldType.BOOLEAN, "redact", False, True),
])
def test_a_fields_default_masking_must_suit_its_type(type_: str, rule: str, subject: bool, ok: bool,
                                                     vaccinations: Dataset) -> None:
    from django.core.exceptions import ValidationError

    candidate = Field(dataset=vaccinations, name="extra", type=type_, masking=rule, is_subject_identifier=subject)
    if ok:
        candidate.full_clean()
    else:
        with pytest.raises(ValidationError):
            candidate.full_clean()
