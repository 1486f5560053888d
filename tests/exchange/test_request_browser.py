"""A request's life in a real browser (Playwright driving Debian's headless chromium), as the people do it:
the police clerk files it from the dataset's catalogue page, the health approver returns it for changes, the
clerk changes and resubmits it, the approver approves it in part; the police system reads through the signed
API and receives only the granted field; the approver revokes the grant; the next read is refused with the
reason. Every page is the platform's default, Simplified Chinese. Screenshots go to $BROWSER_SCREENSHOTS."""

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.models import AuditEvent
from catalog.models import Dataset
from core.keys import platform_key
from exchange import client as consumer
from exchange.models import AccessRequest, Grant, GrantState, RequestState
from tests.conftest import POLICE_KEY_ID, record_path
from tests.test_browser import BrowserThread, Walker, browser, screenshots  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


@pytest.mark.django_db(transaction=True)
def test_a_request_from_the_dataset_page_to_a_revoked_grant(
    platform_language: str, browser: BrowserThread, live_server: Any, screenshots: Path,  # noqa: F811
    health_approver: Any, police_clerk: Any, police_key: Any, police_private_key: Ed25519PrivateKey,
    vaccinations: Dataset,
) -> None:
    fields = {field.name: field.pk for field in vaccinations.fields.all()}
    platform_public = platform_key().public_key
    seen: dict[str, Any] = {}

    def read() -> consumer.SignedResponse:
        response = consumer.get(f"{live_server.url}{record_path()}", private_key=police_private_key,
                                key_id=POLICE_KEY_ID, platform_public_key=platform_public)
        assert response.verified, response.verification_error
        return response

    def steps(start: Callable[[str], Walker]) -> None:
        clerk = start("police-clerk")
        page = clerk.page
        # 1. From the catalogue's dataset page: 申请共享 opens the form with only this dataset's fields.
        page.goto(f"{live_server.url}/catalog/datasets/{vaccinations.identifier}")
        with page.expect_navigation():
            page.click(f'a[href="/admin/exchange/accessrequest/add/?dataset={vaccinations.pk}"]')
        clerk.check("file", "zh-hans", ["预计日读取量"])
        for name in ("vaccine", "dose_date", "full_name"):
            page.check(f'input[name="requested_fields"][value="{fields[name]}"]')
        page.select_option('select[name="purpose_code"]', "public-health.outbreak-tracing")
        page.fill('textarea[name="purpose"]', "排查麻疹病例密切接触者的接种情况")
        page.fill('textarea[name="legal_basis"]', "《中华人民共和国传染病防治法》第十二条")
        page.fill('input[name="case_reference"]', "疾控-2026-88")
        page.fill('input[name="duration_days"]', "90")
        page.fill('input[name="expected_daily_volume"]', "300")
        with page.expect_navigation():
            page.click('input[name="_submit"]')
        match = re.search(r"/accessrequest/(\d+)/", page.url)
        assert match, page.url
        seen["request"] = pk = int(match.group(1))
        clerk.check("filed", "zh-hans", ["办理时限"])

        # 2. The approver returns it: the name is not needed for this purpose.
        approver = start("health-approver")
        approver.visit(f"/admin/exchange/accessrequest/{pk}/decide/", "decide", ["数据项"])
        approver.page.check('input[name="decision"][value="return"]')
        approver.page.fill('textarea[name="comment"]', "核查接种情况无需姓名，请删去“姓名”数据项后重新提交。")
        with approver.page.expect_navigation():
            approver.page.click('.submit-row input[type="submit"]')
        approver.check("returned", "zh-hans", ["已退回修改"])

        # 3. The clerk reads the comment, unticks the name and resubmits.
        clerk.visit(f"/admin/exchange/accessrequest/{pk}/change/", "change", ["请删去"])
        page.uncheck(f'input[name="requested_fields"][value="{fields["full_name"]}"]')
        with page.expect_navigation():
            page.click('input[name="_resubmit"]')
        clerk.check("resubmitted", "zh-hans", ["已重新提交"])

        # 4. The approver approves in part: the vaccine, not the dose dates.
        approver.visit(f"/admin/exchange/accessrequest/{pk}/decide/", "decide-again", ["退回修改"])
        approver.page.check('input[name="decision"][value="approve_in_part"]')
        approver.page.uncheck('input[name="granted_fields"][value="dose_date"]')
        with approver.page.expect_navigation():
            approver.page.click('.submit-row input[type="submit"]')
        approver.check("approved-in-part", "zh-hans", ["部分同意"])

        # 5. The police system reads through the signed API: the granted field only.
        response = read()
        assert response.status_code == 200, response.body
        seen["fields"] = response.json()["fields"]

        # 6. The approver revokes the grant from its page, with a reason.
        with approver.page.expect_navigation():
            approver.page.click('#content a[href^="/admin/exchange/grant/"][href$="/change/"]')
        grant_url = approver.page.url
        with approver.page.expect_navigation():
            approver.page.click('a[href$="/revoke/"]')
        approver.page.fill('textarea[name="reason"]', "案件已办结，授权撤销。")
        with approver.page.expect_navigation():
            approver.page.click('.submit-row input[type="submit"]')
        approver.check("revoked", "zh-hans", ["已撤销"])
        assert approver.page.url == grant_url

        # 7. The next read is refused, signed, with the reason.
        refused = read()
        seen["refused"] = (refused.status_code, refused.json()["error"])

    browser.walk(live_server.url, screenshots, steps)

    request = AccessRequest.objects.get(pk=seen["request"])
    assert request.state == RequestState.APPROVED_IN_PART
    assert request.fields == ["vaccine", "dose_date"]  # as resubmitted, without the name
    assert [step.action for step in request.steps.all()] == [
        "submit", "return_for_changes", "resubmit", "approve_in_part"]
    grant = Grant.objects.get(access_request=request)
    assert grant.allowed_fields == ["vaccine"] and grant.state == GrantState.REVOKED
    assert seen["fields"] == {"vaccine": "hepatitis-b"}
    status, error = seen["refused"]
    assert (status, error["code"]) == (403, "grant_revoked")
    assert "案件已办结" in error["message"]
    assert list(AuditEvent.objects.filter(object_type__in=["access_request", "grant"]).values_list(
        "action", flat=True).order_by("pk")) == [
        "access_request.filed", "access_request.submitted", "access_request.returned", "access_request.updated",
        "access_request.resubmitted", "access_request.approved_in_part", "grant.revoked"]
