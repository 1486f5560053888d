"""Simplified Chinese is the platform's language; English is the other. Every string a person reads is translated.

Three kinds of check:

* at run time, with no gettext tools: every model, field, help text, choice, validator message, error code and
  audit event type of our apps says something different in zh-hans than in English (is translated);
* against the source: a fresh extraction (``makemessages``, needs GNU gettext) finds no msgid that the shipped
  catalogue lacks, leaves untranslated or marks fuzzy; and the shipped ``.mo`` is the compiled ``.po``;
* over HTTP: the admin answers in Chinese by default, in English on request, and offers the language chooser.
"""

import datetime as dt
import gettext
import io
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import models
from django.test import Client
from django.utils import translation

from audit.events import EventType
from catalog.models import Dataset, Tier
from core.errors import ErrorCode
from exchange.models import AccessRequest
from registry.models import Department, Role, SystemKey
from tests.conftest import make_user

OUR_APPS = ("catalog", "exchange", "notifications", "audit", "registry")
PROJECT = Path(django_settings.BASE_DIR)
CATALOGUE = PROJECT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
COMPILED = CATALOGUE.with_suffix(".mo")
# The same words in both languages: technical names that Chinese staff also write in Latin letters.
# Each language's name is written in that language (as the language chooser shows it), in both.
SAME_IN_BOTH = frozenset({"ID", "PEM", *(name for _code, name in django_settings.LANGUAGES)})
# What `make messages` runs (and so what the extraction here runs): the project minus these folders.
IGNORED = (".venv", "tests", "staticfiles", "data")


# --- At run time: our strings are translated ---

def _model_strings() -> Iterator[tuple[str, Any]]:
    for app in OUR_APPS:
        for model in apps.get_app_config(app).get_models():
            opts = model._meta
            name = opts.label
            yield f"{name} verbose_name", opts.verbose_name
            yield f"{name} verbose_name_plural", opts.verbose_name_plural
            if opts.proxy and opts.concrete_model._meta.app_label not in OUR_APPS:
                continue  # another package's fields (registry.SecondFactor: django-otp's); its admin names them
            for model_field in opts.get_fields():
                if not isinstance(model_field, models.Field) or model_field.auto_created:
                    continue  # reverse relations and the automatic id are not ours to name
                where = f"{name}.{model_field.name}"
                yield f"{where} verbose_name", model_field.verbose_name
                if model_field.help_text:
                    yield f"{where} help_text", model_field.help_text
                for value, label in model_field.flatchoices:
                    yield f"{where} choice {value!r}", label
                for validator in model_field.validators:
                    message = getattr(validator, "message", None)
                    if message is not None and message is not getattr(type(validator), "message", None):
                        yield f"{where} validator {type(validator).__name__}", message  # ours, not Django's


def _user_facing_strings() -> Iterator[tuple[str, Any]]:
    yield from _model_strings()
    for code in ErrorCode:
        yield f"ErrorCode.{code.name}", code.default_message
    for event_type in EventType:
        yield f"EventType.{event_type.name}", event_type.meaning
    for app in ("core", "audit", "registry", "notifications", "catalog", "exchange", "govplatform"):
        yield f"app {app}", apps.get_app_config(app).verbose_name
    yield "admin site_header", admin.site.site_header
    yield "admin site_title", admin.site.site_title
    yield "admin index_title", admin.site.index_title


def test_every_model_error_and_event_string_has_a_chinese_translation() -> None:
    untranslated = []
    for where, text in _user_facing_strings():
        with translation.override("en"):
            english = str(text)
        with translation.override("zh-hans"):
            chinese = str(text)
        if chinese == english and english not in SAME_IN_BOTH:
            untranslated.append(f"{where}: {english!r}")
    assert not untranslated, "No zh_Hans translation for:\n" + "\n".join(untranslated)


def test_the_tiers_and_roles_use_the_terms_of_chinese_government_practice() -> None:
    with translation.override("zh-hans"):
        assert [str(label) for label in Tier.labels] == ["开放", "无条件共享", "有条件共享", "不予共享"]
        assert [str(label) for label in Role.labels] == ["经办人", "审批人", "审计员", "部门管理员"]


@pytest.mark.django_db
def test_a_models_validation_message_follows_the_language(health: Department) -> None:
    dataset = Dataset(owner=health, identifier="births", title="Births", tier=Tier.NOT_SHARED, legal_basis="")
    day = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    key = SystemKey(not_before=day, expires_at=day - dt.timedelta(days=1))
    with translation.override("zh-hans"):
        with pytest.raises(ValidationError) as dataset_error:
            dataset.clean()
        with pytest.raises(ValidationError) as key_error:
            key.clean()
        assert dataset_error.value.message_dict == {"legal_basis": ["不予共享的数据资源必须注明法律依据。"]}
        assert key_error.value.message_dict == {"expires_at": ["到期时间必须晚于生效时间。"]}


# --- The shipped catalogue: complete, and compiled ---

@dataclass
class Entry:
    msgid: str
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    fuzzy: bool = False

    @property
    def key(self) -> str:
        return self.msgid if self.msgctxt is None else f"{self.msgctxt}\x04{self.msgid}"

    @property
    def translated(self) -> bool:
        return not self.fuzzy and bool(self.msgstr) and all(self.msgstr.values())


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _unquote(text: str) -> str:
    body = text.strip()
    assert body.startswith('"') and body.endswith('"'), f"not a PO string: {text!r}"
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), body[1:-1])


def po_entries(path: Path) -> list[Entry]:
    """The live entries of a .po/.pot file (obsolete ``#~`` ones dropped), the header included (msgid "")."""
    entries: list[Entry] = []
    current: Entry | None = None
    fuzzy = False
    target: tuple[str, int] = ("", 0)

    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#~"):
            continue
        if line.startswith("#"):
            if line.startswith("#,") and "fuzzy" in line:
                fuzzy = True
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            assert current is not None
            kind, index = target
            if kind == "msgstr":
                current.msgstr[index] += _unquote(line)
            else:
                setattr(current, kind, (getattr(current, kind) or "") + _unquote(line))
            continue
        if keyword in ("msgctxt", "msgid") and (current is None or current.msgstr):
            if current is not None:
                entries.append(current)
            current, fuzzy = Entry(msgid="", fuzzy=fuzzy), False
        assert current is not None, f"{path}: {line!r}"
        match = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
        if match:
            target = ("msgstr", int(match.group(1)))
            current.msgstr[target[1]] = _unquote(rest)
        elif keyword == "msgstr":
            target = ("msgstr", 0)
            current.msgstr[0] = _unquote(rest)
        elif keyword in ("msgid", "msgid_plural", "msgctxt"):
            target = (keyword, 0)
            setattr(current, keyword, _unquote(rest))
        else:
            raise AssertionError(f"{path}: cannot read {line!r}")
    if current is not None:
        entries.append(current)
    return entries


def _describe(entry: Entry) -> str:
    context = f" (context {entry.msgctxt!r})" if entry.msgctxt else ""
    return f"{entry.msgid!r}{context}"


def test_the_shipped_catalogue_has_no_untranslated_or_fuzzy_entry() -> None:
    entries = [e for e in po_entries(CATALOGUE) if e.msgid]
    assert entries, f"{CATALOGUE} is empty"
    bad = [_describe(e) + (" is fuzzy" if e.fuzzy else " is untranslated") for e in entries if not e.translated]
    assert not bad, "\n".join(bad)


def test_the_shipped_mo_is_the_compiled_po() -> None:
    """The .mo that Django reads says exactly what the .po says; recompile after every .po change."""
    expected: dict[Any, str] = {}
    for entry in po_entries(CATALOGUE):
        if not entry.msgid or not entry.translated:
            continue  # the header aside, msgfmt leaves untranslated and fuzzy entries out
        if entry.msgid_plural is None:
            expected[entry.key] = entry.msgstr[0]
        else:
            for index, text in entry.msgstr.items():
                expected[(entry.key, index)] = text
    with COMPILED.open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)._catalog
    compiled = {k: v for k, v in compiled.items() if k != ""}
    missing = sorted(str(k) for k in expected.keys() - compiled.keys())
    stale = sorted(str(k) for k in compiled.keys() & expected.keys() if compiled[k] != expected[k])
    extra = sorted(str(k) for k in compiled.keys() - expected.keys())
    assert not (missing or stale or extra), (
        f"{COMPILED.name} is older than {CATALOGUE.name}; run compilemessages. "
        f"Not compiled: {missing}; different: {stale}; no longer in the .po: {extra}")


def _copy_sources(destination: Path) -> None:
    """The files makemessages reads (and the catalogue), without the folders it is told to ignore."""
    def ignore(directory: str, names: list[str]) -> set[str]:
        def skipped(name: str) -> bool:
            if name in IGNORED or name.startswith(".") or name == "__pycache__":
                return True
            path = Path(directory) / name
            return path.is_file() and path.suffix not in (".py", ".html", ".txt", ".po")

        return {name for name in names if skipped(name)}

    shutil.copytree(PROJECT, destination, ignore=ignore, symlinks=True)


def test_a_fresh_extraction_finds_nothing_the_catalogue_lacks(tmp_path: Path, settings: Any,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("xgettext") is None or shutil.which("msgmerge") is None:
        if os.environ.get("REQUIRE_GETTEXT") == "1":
            pytest.fail("REQUIRE_GETTEXT=1 but GNU gettext (xgettext, msgmerge) is not on PATH")
        pytest.skip("GNU gettext (xgettext) is not installed; set REQUIRE_GETTEXT=1 to make this a failure")
    copy = tmp_path / "project"
    _copy_sources(copy)
    settings.LOCALE_PATHS = [copy / "locale"]
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=["zh_Hans"], ignore_patterns=list(IGNORED), keep_pot=True,
                 verbosity=0, stdout=io.StringIO(), stderr=io.StringIO())
    extracted = [e for e in po_entries(copy / "locale" / "django.pot") if e.msgid]
    assert extracted, "the extraction found no strings at all"
    shipped = {e.key: e for e in po_entries(CATALOGUE)}
    problems = []
    for entry in extracted:
        ours = shipped.get(entry.key)
        if ours is None:
            problems.append(f"{_describe(entry)} is not in the catalogue")
        elif not ours.translated:
            problems.append(f"{_describe(entry)} is {'fuzzy' if ours.fuzzy else 'untranslated'}")
        elif (entry.msgid_plural is None) != (ours.msgid_plural is None):
            problems.append(f"{_describe(entry)} changed between singular and plural")
    assert not problems, ("locale/zh_Hans/LC_MESSAGES/django.po is behind the source; run makemessages, "
                          "translate, compilemessages:\n" + "\n".join(problems))


# --- Over HTTP: Chinese by default, English on request, the chooser on every admin page ---

def test_the_admin_speaks_chinese_by_default(platform_language: str, db: None) -> None:
    page = Client().get("/admin/login/")
    html = page.content.decode()
    assert page.status_code == 200
    assert '<html lang="zh-hans"' in html
    assert "登录" in html  # Django's own "Log in"
    with translation.override("zh-hans"):
        assert str(admin.site.site_header) in html
    assert '<form id="language-chooser" action="/i18n/setlang/" method="post">' in html
    assert '<input name="next" type="hidden" value="/admin/login/">' in html
    assert '<button type="submit" name="language" value="en" lang="en">English</button>' in html
    assert 'value="zh-hans"' not in html  # only the other languages are offered


@pytest.mark.parametrize("how", ["cookie", "accept-language"])
def test_a_person_can_have_english(platform_language: str, db: None, how: str) -> None:
    http = Client()
    if how == "cookie":
        http.cookies["language"] = "en"
        page = http.get("/admin/login/")
    else:
        page = http.get("/admin/login/", headers={"accept-language": "en-GB,en;q=0.9"})
    html = page.content.decode()
    assert '<html lang="en"' in html
    assert "Log in" in html and "登录" not in html
    assert '<button type="submit" name="language" value="zh-hans" lang="zh-hans">简体中文</button>' in html


def test_the_chooser_keeps_the_choice_in_the_language_cookie(platform_language: str, db: None) -> None:
    http = Client()
    response = http.post("/i18n/setlang/", {"language": "en", "next": "/admin/login/?next=/admin/"})
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/"
    assert response.cookies["language"].value == "en"
    assert '<html lang="en"' in http.get("/admin/login/").content.decode()


def test_signed_in_staff_find_the_chooser_among_the_user_tools(platform_language: str, db: None) -> None:
    person = make_user("health-clerk", Department.objects.create(code="health", name="卫生健康委员会"), Role.CLERK)
    http = Client()
    http.force_login(person)
    html = http.get("/admin/").content.decode()
    tools = html[html.index('<div id="user-tools">'):html.index("</header>")]
    assert '<form id="language-chooser"' in tools
    assert html.count('id="language-chooser"') == 1
    assert '<input name="next" type="hidden" value="/admin/">' in tools
    assert "注销" in tools  # Django's own "Log out" is still there


def test_dates_use_the_chinese_format_in_shanghai_time(platform_language: str, health_approver: Any,
                                                        health_clerk: Any, vaccinations: Dataset,
                                                        police_system: Any) -> None:
    filed_at = dt.datetime(2026, 11, 22, 17, 30, tzinfo=dt.UTC)  # 01:30 on the 23rd in Asia/Shanghai
    access_request = AccessRequest.objects.create(
        consumer=police_system, dataset=vaccinations, fields=["vaccine"], purpose_code="public-health.tracing",
        purpose="Outbreak tracing", legal_basis="Law on the Prevention and Control of Infectious Diseases",
        filed_by=health_clerk, filed_at=filed_at)
    http = Client()
    http.force_login(health_approver)
    page = http.get(f"/admin/exchange/accessrequest/{access_request.pk}/decide/")
    assert page.status_code == 200
    assert "2026年11月23日 01:30" in page.content.decode()
