"""notifications.selectors.notification_render: every kind has a subject and a body, in the active language,
and rendering never fails, whatever parameters are missing or malformed."""

from typing import Any

import pytest
from django.utils import translation

from notifications.models import Notification, NotificationKind
from notifications.selectors import notification_render

from .conftest import REQUEST_PARAMS

#: What the exchange passes for each kind (see the interface in notifications.services.notify).
FULL_PARAMS: dict[str, dict[str, str | int]] = {
    "request_new": REQUEST_PARAMS,
    "request_returned": {"request": 12, "dataset": "儿童疫苗接种记录", "comment": "Name the case, please."},
    "request_resubmitted": {"request": 12, "dataset": "儿童疫苗接种记录", "consumer": "Police records system",
                            "due": "2026-05-12"},
    "request_decided": {"request": 12, "dataset": "儿童疫苗接种记录", "outcome": "approved_in_part",
                        "reason": "Only the fields the case needs."},
    "deadline_near": {"request": 12, "dataset": "儿童疫苗接种记录", "due": "2026-05-12", "days_left": 2},
    "request_escalated": {"request": 12, "dataset": "儿童疫苗接种记录", "department": "Health Commission",
                          "due": "2026-05-12"},
    "request_assigned": {"request": 12, "dataset": "儿童疫苗接种记录", "due": "2026-05-12"},
    "grant_expiring": {"grant": 7, "dataset": "儿童疫苗接种记录", "valid_until": "2026-06-30"},
    "grant_revoked": {"grant": 7, "dataset": "儿童疫苗接种记录", "reason": "The case is closed."},
}

EXPECTED_SUBJECTS = {
    "request_new": "New access request #12 for 儿童疫苗接种记录",
    "request_returned": "Access request #12 for 儿童疫苗接种记录 was returned for changes",
    "request_resubmitted": "Access request #12 for 儿童疫苗接种记录 was resubmitted",
    "request_decided": "Access request #12 for 儿童疫苗接种记录: approved in part",
    "deadline_near": "Access request #12 for 儿童疫苗接种记录 is due in 2 working days",
    "request_escalated": "Access request #12 for 儿童疫苗接种记录 is overdue and has been escalated",
    "request_assigned": "Access request #12 for 儿童疫苗接种记录 has been handed to you",
    "grant_expiring": "Grant #7 for 儿童疫苗接种记录 expires on June 30, 2026",
    "grant_revoked": "Grant #7 for 儿童疫苗接种记录 has been revoked",
}


def rendered(kind: str, params: Any) -> tuple[str, str]:
    return notification_render(Notification(kind=kind, params=params))


def test_every_kind_has_its_texts() -> None:
    assert set(FULL_PARAMS) == set(EXPECTED_SUBJECTS) == set(NotificationKind.values)


@pytest.mark.parametrize("kind", NotificationKind.values)
def test_every_kind_renders_its_parameters(kind: str) -> None:
    subject, body = rendered(kind, FULL_PARAMS[kind])
    assert subject == EXPECTED_SUBJECTS[kind]
    assert "?" not in subject + body and "%(" not in body
    assert "儿童疫苗接种记录" in body


def test_bodies_say_what_to_do_and_include_free_texts_verbatim() -> None:
    assert rendered("request_new", FULL_PARAMS["request_new"])[1] == (
        "Police records system of Public Security Bureau has filed access request #12 for 儿童疫苗接种记录.\n\n"
        "Please decide it by May 12, 2026.")
    assert "Name the case, please." in rendered("request_returned", FULL_PARAMS["request_returned"])[1]
    assert "Only the fields the case needs." in rendered("request_decided", FULL_PARAMS["request_decided"])[1]
    assert "The case is closed." in rendered("grant_revoked", FULL_PARAMS["grant_revoked"])[1]
    assert "Health Commission did not decide" in rendered("request_escalated", FULL_PARAMS["request_escalated"])[1]


@pytest.mark.parametrize("kind", NotificationKind.values)
def test_missing_parameters_read_as_a_question_mark(kind: str) -> None:
    subject, body = rendered(kind, {})
    assert "?" in subject + body and "%(" not in subject + body
    assert rendered(kind, None) == (subject, body)  # a damaged row renders too
    assert rendered(kind, "not a mapping")[0] == subject


@pytest.mark.parametrize(("outcome", "words"), [("approved", "approved"), ("approved_in_part", "approved in part"),
                                                ("rejected", "rejected"), ("postponed", "postponed")])
def test_outcomes_are_words(outcome: str, words: str) -> None:
    subject, _body = rendered("request_decided", {"request": 3, "dataset": "D", "outcome": outcome, "reason": ""})
    assert subject == f"Access request #3 for D: {words}"


@pytest.mark.parametrize(("days_left", "subject"), [
    (0, "Access request #12 for D is due today"),
    (1, "Access request #12 for D is due in 1 working day"),
    (3, "Access request #12 for D is due in 3 working days"),
    ("2", "Access request #12 for D is due in 2 working days"),
    (-1, "Access request #12 for D is overdue"),
    (None, "Access request #12 for D is due soon"),
    ("soon", "Access request #12 for D is due soon"),
])
def test_the_deadline_subject_counts_the_working_days_left(days_left: Any, subject: str) -> None:
    params = {"request": 12, "dataset": "D", "due": "2026-05-12"}
    if days_left is not None:
        params["days_left"] = days_left
    assert rendered("deadline_near", params)[0] == subject


def test_dates_are_shown_in_the_readers_language_and_bad_ones_as_given() -> None:
    params = {**FULL_PARAMS["grant_expiring"]}
    with translation.override("zh-hans"):
        assert "2026年6月30日" in rendered("grant_expiring", params)[0]
    assert "June 30, 2026" in rendered("grant_expiring", params)[0]
    assert "expires on end of June" in rendered("grant_expiring", {**params, "valid_until": "end of June"})[0]


def test_a_subject_is_one_line_whatever_the_titles_hold() -> None:
    subject, _body = rendered("request_new", {**REQUEST_PARAMS, "dataset": "Vaccinations\r\nBcc: someone@example"})
    assert "\n" not in subject and "\r" not in subject
    assert subject == "New access request #12 for Vaccinations Bcc: someone@example"


def test_an_unknown_kind_renders_a_plain_title() -> None:
    assert rendered("withdrawn_kind", {"request": 1}) == ("Notification", "")


def test_percent_signs_in_values_are_kept() -> None:
    subject, body = rendered("grant_revoked", {"grant": 1, "dataset": "100% sample", "reason": "%(grant)s %s"})
    assert subject == "Grant #1 for 100% sample has been revoked"
    assert body.endswith("%(grant)s %s")
