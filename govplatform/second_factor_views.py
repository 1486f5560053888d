"""The second factor's two admin pages: enrolling an authenticator app, and passing it after the password.

What is checked and recorded lives in ``registry.second_factor``; these pages ask and answer.
``govplatform.middleware.SecondFactorMiddleware`` sends a person here until they have passed it.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import login as otp_login

from core.errors import PlatformError
from registry.second_factor import (
    authenticator,
    enrolment_confirm,
    enrolment_qr,
    enrolment_secret,
    enrolment_start,
    recovery_codes_left,
    second_factor_check,
    second_factor_required,
)
from registry.services import client_address

ADMIN_LOGIN = "admin:login"


class CodeForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Code"), max_length=32, strip=True, widget=forms.TextInput(
        attrs={"autocomplete": "one-time-code", "autofocus": True, "inputmode": "text", "size": 12}))


def _next(request: HttpRequest) -> str:
    """Where to go afterwards: the page that sent the person here, if it is the platform's own."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return reverse("admin:index")


def _page(request: HttpRequest, template: str, title: str, **context: Any) -> HttpResponse:
    return render(request, template, {**admin.site.each_context(request), "title": title, "next": _next(request),
                                      "is_nav_sidebar_enabled": False, **context})


@never_cache
@sensitive_post_parameters("code")
@login_required(login_url=ADMIN_LOGIN)
def second_factor_enrol(request: HttpRequest) -> HttpResponse:
    """Set up the authenticator app: a QR code (and the secret, to type in), then its first code."""
    user = request.user
    if authenticator(user) is not None and not user.is_verified():  # type: ignore[union-attr]
        # Replacing an authenticator needs the current one: a stolen password alone must not swap it.
        return redirect(f"{reverse('second-factor-verify')}?next={reverse('second-factor-enrol')}")
    device = enrolment_start(user=user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = enrolment_confirm(user=user, device=device, token=form.cleaned_data["code"],
                                      ip=client_address(request))
        except PlatformError as error:
            form.add_error("code", error.message)
        else:
            otp_login(request, device)
            return _page(request, "registration/second_factor_codes.html", _("Your recovery codes"), codes=codes)
    return _page(request, "registration/second_factor_enrol.html", _("Set up your second factor"), form=form,
                 qr=enrolment_qr(device), secret=enrolment_secret(device), required=second_factor_required(user))


@never_cache
@sensitive_post_parameters("code")
@login_required(login_url=ADMIN_LOGIN)
def second_factor_verify(request: HttpRequest) -> HttpResponse:
    """After the password: a code from the authenticator app, or one recovery code."""
    user = request.user
    device = authenticator(user)
    if device is None:
        return redirect(f"{reverse('second-factor-enrol')}?next={_next(request)}")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        passed = second_factor_check(user=user, token=form.cleaned_data["code"], ip=client_address(request))
        if passed is not None:
            otp_login(request, passed)
            if passed != device:  # a recovery code
                messages.warning(request, _(
                    "You signed in with a recovery code; %(left)d are left. If the authenticator is lost, set up "
                    "a new one now (it comes with new recovery codes).") % {"left": recovery_codes_left(user)})
            return redirect(_next(request))
        allowed, _why = device.verify_is_allowed()
        form.add_error("code", _("That code is not right.") if allowed else _(
            "Too many wrong codes: wait a little before trying again (each wrong code doubles the wait)."))
    return _page(request, "registration/second_factor_verify.html", _("Second factor"), form=form)
