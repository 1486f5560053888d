"""The inbox in the admin: everyone signed in to the admin has their own, and sees nobody else's.

Not a policy admin: departments do not enter into it; the rule is "only your own". Nobody adds, edits
or deletes notifications here; opening one marks it read and goes to the page it is about.
"""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from registry.policy import has_any_role

from .forms import NotificationSettingsForm
from .models import Notification
from .selectors import notification_render, notification_settings_get, notifications_for
from .services import link_is_safe, notification_settings_update, notifications_mark_read


class ReadFilter(admin.SimpleListFilter):
    title = gettext_lazy("status")
    parameter_name = "read"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("no", gettext_lazy("Unread")), ("yes", gettext_lazy("Read"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "no":
            return queryset.filter(read_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(read_at__isnull=False)
        return queryset


def _is_member_of_staff(request: HttpRequest) -> bool:
    """Staff who hold a role (the only people anything is about): a role no rule names sees nothing."""
    user = request.user
    return bool(user.is_active and user.is_staff and has_any_role(user))


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "subject", "is_read"]
    list_display_links = None
    list_filter = [ReadFilter, "kind"]
    list_per_page = 50
    show_full_result_count = False  # one COUNT fewer; the filters say what is shown
    actions = ["mark_read"]
    fields = readonly_fields = ("created_at", "kind", "subject", "body", "link", "read_at", "emailed_at")

    class Media:
        css = {"all": ["notifications/inbox.css"]}  # no inline styles: the Content Security Policy allows none

    def get_queryset(self, request: HttpRequest) -> QuerySet[Notification]:
        return notifications_for(user=request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _is_member_of_staff(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Only one's own: others' notifications are not in get_queryset, so they are not found.
        return _is_member_of_staff(request) and (obj is None or obj.recipient_id == request.user.pk)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=gettext_lazy("Subject"))
    def subject(self, obj: Notification) -> str:
        subject, body = notification_render(obj)
        opened = reverse("admin:notifications_notification_open", args=[obj.pk])
        if obj.read_at is None:
            return format_html('<a href="{}" title="{}"><strong>{}</strong></a>', opened, body, subject)
        return format_html('<a href="{}" title="{}">{}</a>', opened, body, subject)

    @admin.display(description=gettext_lazy("Message"))
    def body(self, obj: Notification) -> str:
        return format_html('<div class="notification-body">{}</div>', notification_render(obj)[1])

    @admin.display(description=gettext_lazy("Read"), boolean=True)
    def is_read(self, obj: Notification) -> bool:
        return obj.read_at is not None

    @admin.action(description=gettext_lazy("Mark the selected messages as read"))
    def mark_read(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        count = notifications_mark_read(user=request.user, ids=queryset.values_list("pk", flat=True))
        self.message_user(request, ngettext("%(count)d message marked as read.", "%(count)d messages marked as read.",
                                            count) % {"count": count}, messages.SUCCESS)

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [path("<int:pk>/open/", wrap(self.open_view), name="notifications_notification_open"),
                path("mark-all-read/", wrap(self.mark_all_read_view), name="notifications_notification_mark_all_read"),
                path("settings/", wrap(self.settings_view), name="notifications_notification_settings"),
                *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return super().changelist_view(request, {"title": _("Inbox"), **(extra_context or {})})

    def open_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Mark one's own notification read and go to what it is about (another's is not found: 404)."""
        notification = get_object_or_404(self.get_queryset(request), pk=pk)
        notifications_mark_read(user=request.user, ids=[notification.pk])
        if notification.link and link_is_safe(notification.link):
            return HttpResponseRedirect(notification.link)
        return HttpResponseRedirect(reverse("admin:notifications_notification_changelist"))

    def mark_all_read_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        count = notifications_mark_read(user=request.user)
        self.message_user(request, ngettext("%(count)d message marked as read.", "%(count)d messages marked as read.",
                                            count) % {"count": count}, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:notifications_notification_changelist"))

    def settings_view(self, request: HttpRequest) -> HttpResponse:
        """One's own email choices: the language, and which kinds of message also arrive by email."""
        form = NotificationSettingsForm(request.POST or None, current=notification_settings_get(user=request.user))
        status = 200
        if request.method == "POST":
            if form.is_valid():
                notification_settings_update(user=request.user, email_language=form.cleaned_data["email_language"],
                                             email_kinds=form.kinds_by_email())
                self.message_user(request, _("Your notification settings are saved."), messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:notifications_notification_settings"))
            status = 400
        context = {**self.admin_site.each_context(request), "title": _("Notification settings"), "form": form,
                   "opts": self.model._meta, "email": getattr(request.user, "email", "")}
        return TemplateResponse(request, "admin/notifications/settings.html", context, status=status)
