from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = _("Registry: departments, people, systems")

    def ready(self) -> None:
        """Sign-ins happen in Django's own auth code, whose signals are the one way to see them: each
        becomes an audit event through the registry's service (infrastructure wiring, no logic here)."""
        from axes.signals import user_locked_out
        from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
        from django.core.checks import register

        from audit.events import EventType

        from .checks import second_factor_check
        from .models import Department, System, SystemKey
        from .services import login_lockout_record, sign_in_record
        from .versions import bump_on_change

        register(second_factor_check, "security", deploy=False)
        bump_on_change(Department, System, SystemKey)  # what the signed exchange keeps in memory

        def logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
            sign_in_record(action=EventType.USER_LOGGED_IN, username=user.get_username(), request=request)

        def logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
            if user is not None:
                sign_in_record(action=EventType.USER_LOGGED_OUT, username=user.get_username(), request=request)

        def login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
            sign_in_record(action=EventType.USER_LOGIN_FAILED, username=str(credentials.get("username", "")),
                           request=request)

        user_logged_in.connect(logged_in, dispatch_uid="registry.audit_login", weak=False)
        user_logged_out.connect(logged_out, dispatch_uid="registry.audit_logout", weak=False)
        user_login_failed.connect(login_failed, dispatch_uid="registry.audit_login_failed", weak=False)

        def locked_out(sender: Any, request: Any, username: Any = None, ip_address: Any = None, **kwargs: Any) -> None:
            login_lockout_record(username=str(username or ""), ip_address=str(ip_address or ""))

        user_locked_out.connect(locked_out, dispatch_uid="registry.audit_locked_out", weak=False)
