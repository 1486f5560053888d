from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .models import NotificationKind, NotificationSettings


def kind_field_name(kind: str) -> str:
    return f"email_{kind}"


class NotificationSettingsForm(forms.Form):
    """The language of one's emails, and one box per kind of message: ticked, it also arrives by email."""

    email_language = forms.ChoiceField(label=_("Language of emails"), choices=())

    def __init__(self, *args: Any, current: NotificationSettings, **kwargs: Any) -> None:
        by_email = {kind_field_name(kind): current.wants_email(kind) for kind in NotificationKind}
        kwargs.setdefault("initial", {"email_language": current.language(), **by_email})
        super().__init__(*args, **kwargs)
        language = self.fields["email_language"]
        assert isinstance(language, forms.ChoiceField)
        language.choices = list(settings.LANGUAGES)
        for kind in NotificationKind:
            self.fields[kind_field_name(kind)] = forms.BooleanField(label=kind.label, required=False, label_suffix="")

    def kind_fields(self) -> list[forms.BoundField]:
        return [self[kind_field_name(kind)] for kind in NotificationKind]

    def kinds_by_email(self) -> list[str]:
        return [kind.value for kind in NotificationKind if self.cleaned_data.get(kind_field_name(kind))]
