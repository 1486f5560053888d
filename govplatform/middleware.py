"""Signed-in sessions end after a working day and after a spell without activity (``SESSION_*`` settings).

Django's own cookie age cannot do both: refreshed on activity it never ends a busy day, fixed at sign-in
it never ends an idle one. This middleware keeps when the session began and when it was last used, and
signs the person out (an audited sign-out) when either limit is passed; the sign-in page then says why.
"""

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from registry.second_factor import authenticator, second_factor_required

STARTED, SEEN = "session_started_at", "session_seen_at"
#: The last-use stamp is written at most this often (a database write per request would be waste).
SEEN_RESOLUTION_SECONDS = 60


class SessionLimitsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Only the admin has signed-in sessions; elsewhere (the public catalogue, the API) nothing is read.
        user = getattr(request, "user", None) if request.path.startswith("/admin/") else None
        if user is not None and user.is_authenticated:
            now = time.time()
            session = request.session
            started, seen = session.get(STARTED), session.get(SEEN)
            idle, whole = settings.SESSION_IDLE_MINUTES * 60, settings.SESSION_MAX_HOURS * 3600
            if started is not None and (now - started > whole or (seen is not None and now - seen > idle)):
                why = (_("You were signed out after %(minutes)d minutes without activity.") % {
                    "minutes": settings.SESSION_IDLE_MINUTES} if now - started <= whole else
                       _("You were signed out: a session lasts at most %(hours)d hours.") % {
                           "hours": settings.SESSION_MAX_HOURS})
                logout(request)
                messages.warning(request, why + " " + _("Sign in again to go on."))
            else:
                if started is None:
                    session[STARTED] = now
                if seen is None or now - seen >= SEEN_RESOLUTION_SECONDS:
                    session[SEEN] = now
        return self.get_response(request)


class SecondFactorMiddleware:
    """Until a person who must pass a second factor has passed it, every admin page sends them to enrol an
    authenticator (the first time) or to type its code; only signing out, the sign-in page and those two
    pages stay open. After ``django_otp.middleware.OTPMiddleware``, which says whether they passed."""

    OPEN = ("/admin/second-factor/", "/admin/logout/", "/admin/login/", "/admin/jsi18n/")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/admin/") and not request.path.startswith(self.OPEN):
            user = request.user
            if second_factor_required(user) and not user.is_verified():  # type: ignore[union-attr]
                page = "second-factor-verify" if authenticator(user) is not None else "second-factor-enrol"
                return redirect(f"{reverse(page)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)


def session_stamp(sender: object, request: HttpRequest, user: object, **kwargs: object) -> None:
    """At sign-in: when the session began and was last used (connected to ``user_logged_in``)."""
    if request is not None and hasattr(request, "session"):
        request.session[STARTED] = request.session[SEEN] = time.time()
