"""The README walkthrough's admin pages in a real browser: Playwright driving Debian's headless chromium.

Each person logs in through the admin's login form and opens the pages the walkthrough sends them to.
Every page is in Simplified Chinese (the platform's default language), answers 200 and logs no console
error; the language chooser switches the same page to English, and the next page stays English.

Full-page screenshots go to $BROWSER_SCREENSHOTS (default: the test's tmp_path), so a person can look.
Without Playwright or /usr/bin/chromium (or a CJK font, without which the Chinese pages would show as
boxes) the module is skipped, unless REQUIRE_BROWSER_TESTS=1 (CI sets it), which makes that a failure.
"""

import base64
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django_otp.oath import TOTP

from audit.sequencer import log_sequence
from catalog.models import Dataset
from exchange.models import AccessRequest
from exchange.services import access_request_file
from registry.models import System

try:
    from playwright.sync_api import ConsoleMessage, Page, sync_playwright
except ImportError:  # pragma: no cover - the fixture below skips (or fails) with the reason
    sync_playwright = None

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "correct horse battery staple"
CJK = re.compile(r"[\u4e00-\u9fff]")
# Django's own admin strings, in every logged-in admin page's header (its own translation, not ours).
ZH_HEADER = ["欢迎", "修改密码", "注销"]
EN_HEADER = ["Welcome", "Change password", "Log out"]
CHOOSER_EN = '#language-chooser button[name="language"][value="en"]'


def _missing() -> str:
    """Why this machine cannot run the browser test, or "" if it can."""
    if sync_playwright is None:
        return "Playwright for Python is not installed (pip install -r requirements-dev.lock)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    fc_list = shutil.which("fc-list")
    if fc_list is None or not subprocess.run([fc_list, ":lang=zh-cn"], capture_output=True, text=True,
                                             check=False).stdout.strip():
        return "no font for Chinese, so the pages would show boxes (apt-get install fonts-noto-cjk)"
    return ""


class BrowserThread:
    """One headless chromium for the module, in a thread of its own.

    Playwright's sync API keeps an event loop running in the thread that starts it, and Django refuses
    database calls from such a thread; so the tests build their world in the main thread and hand their
    walks to this one, which only talks HTTP to the live server.
    """

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="browser")
        self.run(self._start)

    def _start(self) -> None:
        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)

    def _stop(self) -> None:
        self._browser.close()
        self._playwright.stop()

    def run(self, function: Callable[[], None]) -> None:
        self._thread.submit(function).result(timeout=300)

    def walk(self, base_url: str, screenshots: Path, steps: Callable[[Callable[[str], "Walker"]], None]) -> None:
        """Run ``steps`` in the browser thread; it opens a logged-in tab per person with ``start(person)``.

        The browser asks for any language ("Accept-Language: *"), so what it shows is the platform's own
        default, not a preference of the browser's.
        """

        def body() -> None:
            contexts = []

            def start(person: str, *, sign_in: bool = True) -> Walker:
                context = self._browser.new_context(extra_http_headers={"Accept-Language": "*"},
                                                    viewport={"width": 1280, "height": 800})
                contexts.append(context)
                walker = Walker(context.new_page(), base_url, screenshots, person)
                if sign_in:
                    walker.log_in()
                return walker

            try:
                steps(start)
            finally:
                for context in contexts:
                    context.close()

        self.run(body)

    def close(self) -> None:
        self.run(self._stop)
        self._thread.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserThread]:
    if reason := _missing():
        if os.environ.get("REQUIRE_BROWSER_TESTS") == "1":
            pytest.fail(f"REQUIRE_BROWSER_TESTS=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    thread = BrowserThread()
    yield thread
    thread.close()


@pytest.fixture
def screenshots(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("BROWSER_SCREENSHOTS") or tmp_path) / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Walker:
    """One person's browser tab: visits pages and checks each one the same way."""

    page: "Page"
    base_url: str
    screenshots: Path
    person: str
    console_errors: list[str] = field(default_factory=list)
    shots: int = 0

    def __post_init__(self) -> None:
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.console_errors.append(f"uncaught: {error}"))

    def _console(self, message: "ConsoleMessage") -> None:
        """Console errors, which include everything the Content Security Policy refused to run or apply."""
        url = message.location.get("url", "")
        # Chromium asks every site for /favicon.ico on its own; the platform has none, which is no page's error.
        if message.type == "error" and not url.endswith("/favicon.ico"):
            self.console_errors.append(f"{message.text} ({url})")

    def log_in(self) -> None:
        """Through the admin's login form, as a person would (the form is Chinese too)."""
        response = self.page.goto(f"{self.base_url}/admin/login/?next=/admin/")
        assert response is not None and response.status == 200
        self.check("login", "zh-hans", ["用户名", "密码"], header=[])
        self.page.fill("#id_username", self.person)
        self.page.fill("#id_password", PASSWORD)
        with self.page.expect_navigation():
            self.page.click('#login-form [type="submit"]')
        assert self.page.url == f"{self.base_url}/admin/", f"{self.person} could not log in: {self.page.url}"

    def visit(self, path: str, name: str, expected: list[str], *, language: str = "zh-hans",
              header: list[str] | None = None) -> None:
        response = self.page.goto(f"{self.base_url}{path}")
        assert response is not None, path
        assert response.status == 200, f"{self.person} {path}: HTTP {response.status}"
        self.check(name, language, expected, header)

    def check(self, name: str, language: str, expected: list[str], header: list[str] | None = None) -> None:
        path = self.page.url.removeprefix(self.base_url)
        self.shots += 1
        self.page.screenshot(path=str(self.screenshots / f"{self.person}-{self.shots:02d}-{name}-{language}.png"),
                             full_page=True)
        assert self.page.get_attribute("html", "lang") == language, f"{self.person} {path}"
        text = self.page.inner_text("body").casefold()  # as shown: the admin's CSS capitalises some of it
        chinese = language == "zh-hans"
        for phrase in [*(header if header is not None else ZH_HEADER if chinese else EN_HEADER), *expected]:
            assert phrase.casefold() in text, f"{self.person} {path} ({language}): no {phrase!r} in:\n{text[:1500]}"
        if chinese:
            assert CJK.search(text), f"{self.person} {path}: no Chinese on the page"
            assert "log out" not in text, f"{self.person} {path}: English header on a Chinese page"
        else:
            assert "注销" not in text, f"{self.person} {path}: Chinese header on an English page"
        assert not self.console_errors, f"{self.person} {path}: console errors {self.console_errors}"


@pytest.fixture
def world(health: Any, police: Any, health_clerk: Any, health_approver: Any, police_clerk: Any, auditor: Any,
          police_system: System, police_key: Any, vaccinations: Dataset) -> AccessRequest:
    """The walkthrough's world: Health's published dataset, Police's system and key, Police's request."""
    request = access_request_file(consumer=police_system, dataset=vaccinations, fields=["vaccine", "dose_date"],
                                  actor=police_clerk, purpose_code="public-health.outbreak-tracing",
                                  purpose="Trace contacts in an outbreak", legal_basis="Infectious Diseases Law",
                                  case_reference="PSB-1", duration_days=30)
    log_sequence()  # a signed checkpoint for the auditor to see
    return request


@pytest.mark.django_db(transaction=True)
def test_each_person_walks_their_pages_in_chinese_by_default(
    platform_language: str, world: AccessRequest, browser: BrowserThread, live_server: Any, screenshots: Path
) -> None:
    assert platform_language == "zh-hans"
    dataset, request = world.dataset.pk, world.pk

    def steps(start: Callable[[str], Walker]) -> None:
        clerk = start("health-clerk")
        clerk.visit("/admin/catalog/dataset/", "datasets", ["增加"])
        clerk.visit(f"/admin/catalog/dataset/{dataset}/change/", "dataset", ["修改", "历史"])
        clerk.visit(f"/admin/catalog/dataset/{dataset}/import/", "import", [])

        police = start("police-clerk")
        police.visit("/admin/registry/system/", "systems", ["增加"])
        police.visit("/admin/registry/systemkey/", "system-keys", ["增加"])
        police.visit("/admin/exchange/accessrequest/add/", "add-access-request", ["增加"])

        approver = start("health-approver")
        approver.visit("/admin/exchange/accessrequest/", "access-requests", ["查看"])
        approver.visit(f"/admin/exchange/accessrequest/{request}/change/", "access-request", ["查看"])
        approver.visit(f"/admin/exchange/accessrequest/{request}/decide/", "decide", [])

        auditor = start("auditor")
        auditor.visit("/admin/audit/auditevent/", "audit-events", ["查看"])
        auditor.visit("/admin/audit/checkpoint/", "checkpoints", ["查看"])

    browser.walk(live_server.url, screenshots, steps)


@pytest.mark.django_db(transaction=True)
def test_the_language_chooser_switches_to_english_and_it_stays(
    platform_language: str, world: AccessRequest, browser: BrowserThread, live_server: Any, screenshots: Path
) -> None:
    dataset = world.dataset.pk

    def steps(start: Callable[[str], Walker]) -> None:
        clerk = start("health-clerk")
        clerk.visit(f"/admin/catalog/dataset/{dataset}/change/", "dataset", ["修改"])
        chooser = clerk.page.locator(CHOOSER_EN)
        assert chooser.count() == 1, ('no language chooser: <form id="language-chooser"> with '
                                      '<button name="language" value="en">English</button>')
        assert chooser.inner_text() == "English"
        with clerk.page.expect_navigation():
            chooser.click()
        assert clerk.page.url == f"{clerk.base_url}/admin/catalog/dataset/{dataset}/change/", \
            "the chooser brings the person back to the page they were on"
        assert {c["name"]: c["value"] for c in clerk.page.context.cookies()}.get("language") == "en"
        clerk.check("dataset", "en", ["Change", "History"])

        clerk.visit(f"/admin/catalog/dataset/{dataset}/import/", "import", [], language="en")
        clerk.visit("/admin/catalog/dataset/", "datasets", ["Add"], language="en")

    browser.walk(live_server.url, screenshots, steps)


@pytest.mark.django_db(transaction=True)
def test_the_public_pages_and_the_api_docs_work_under_the_content_security_policy(
    platform_language: str, vaccinations: Dataset, browser: BrowserThread, live_server: Any, screenshots: Path
) -> None:
    """Styled and scripted from files only: a style or script the policy refused would be a console error."""

    def steps(start: Callable[[str], Walker]) -> None:
        visitor = start("visitor", sign_in=False)  # type: ignore[call-arg]
        visitor.visit("/", "home", ["数据资源目录"], header=[])
        assert visitor.page.eval_on_selector("header", "h => getComputedStyle(h).display") == "flex", \
            "the home page's style sheet applies"
        visitor.visit("/catalog/", "catalogue", [], header=[])
        visitor.visit("/admin/login/", "login", ["用户名", "密码"], header=[])
        assert visitor.page.eval_on_selector("#language-chooser", "f => getComputedStyle(f).marginLeft") == "12px"

        response = visitor.page.goto(f"{visitor.base_url}/api/docs/")
        assert response is not None and response.status == 200
        visitor.page.wait_for_selector("#swagger-ui .info .title", timeout=30_000)  # the split script ran
        visitor.page.screenshot(path=str(visitor.screenshots / "visitor-api-docs.png"))
        assert not visitor.console_errors, visitor.console_errors

    browser.walk(live_server.url, screenshots, steps)


@pytest.mark.django_db(transaction=True)
def test_an_approver_sets_up_an_authenticator_at_the_first_sign_in(
    platform_language: str, second_factor: bool, health_approver: Any, browser: BrowserThread, live_server: Any,
    screenshots: Path
) -> None:
    """From the password to the QR code, the app's code (computed here from the key the page shows, as the
    app would) and the recovery codes, then the admin."""
    assert second_factor

    def steps(start: Callable[[str], Walker]) -> None:
        approver = start("health-approver", sign_in=False)  # type: ignore[call-arg]
        page = approver.page
        page.goto(f"{approver.base_url}/admin/login/?next=/admin/")
        page.fill("#id_username", "health-approver")
        page.fill("#id_password", PASSWORD)
        with page.expect_navigation():
            page.click('#login-form [type="submit"]')
        assert page.url.startswith(f"{approver.base_url}/admin/second-factor/?next="), page.url
        approver.check("second-factor-enrol", "zh-hans", ["身份验证器", "恢复码"])
        assert page.eval_on_selector("#second-factor-qr", "img => img.naturalWidth") > 0, "the QR code shows"
        key = base64.b32decode(page.inner_text("#second-factor-secret").replace(" ", ""))
        page.fill("#id_code", f"{TOTP(key).token():06d}")
        with page.expect_navigation():
            page.click('.second-factor [type="submit"]')
        approver.check("second-factor-recovery-codes", "zh-hans", ["恢复码"])
        assert len(page.locator("#recovery-codes code").all_inner_texts()) == 10
        with page.expect_navigation():
            page.click(".second-factor a.button")
        assert page.url == f"{approver.base_url}/admin/"
        approver.check("admin-home", "zh-hans", [])

    browser.walk(live_server.url, screenshots, steps)
