"""The event-type catalogue is the one list of evidence, and its generated documentation is true to it."""

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from audit.events import EventType
from audit.management.commands.audit_event_docs import event_docs
from audit.models import AuditEvent


def test_the_committed_event_docs_match_the_catalogue() -> None:
    committed = (Path(settings.BASE_DIR) / "docs" / "audit-events.md").read_text()
    assert committed == event_docs(), "run `make docs` and commit docs/audit-events.md"


def test_every_action_is_named_object_dot_verb_and_declared_once() -> None:
    actions = [event_type.action for event_type in EventType]
    assert len(actions) == len(set(actions))
    for event_type in EventType:
        assert event_type.action.count(".") == 1 and event_type.action.islower(), event_type
        assert event_type.object_type and str(event_type.meaning).endswith(".")


@pytest.mark.django_db
def test_an_events_page_says_what_it_means_in_the_platforms_language(auditor: Any, platform_language: str) -> None:
    http = Client()
    http.force_login(auditor)  # the sign-in itself is the event
    event = AuditEvent.objects.get()
    html = http.get(f"/admin/audit/auditevent/{event.pk}/change/").content.decode()
    meaning = str(EventType.USER_LOGGED_IN.meaning)  # in the platform's language (the fixture made it active)
    assert meaning in html and meaning != "A person signed in to the admin."
