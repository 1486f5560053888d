from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from .log_api import CheckpointApi, ConsistencyProofApi, CosignatureApi, InclusionProofApi
from .second_factor_views import second_factor_enrol, second_factor_verify
from .views import HealthApi, PlatformKeyApi

handler404 = "govplatform.views.not_found"
handler500 = "govplatform.views.server_error"

admin.site.site_header = _("Government data-sharing platform")
admin.site.site_title = _("Data-sharing platform")
admin.site.index_title = _("Catalogue, exchange and audit")
admin.site.site_url = "/"  # "View site": the platform's home page (the public catalogue will live here too)

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the language chooser posts here
    # Before the admin's own URLs, whose catch-all would answer them.
    path("admin/second-factor/", second_factor_enrol, name="second-factor-enrol"),
    path("admin/second-factor/verify/", second_factor_verify, name="second-factor-verify"),
    path("admin/", admin.site.urls),
    path("healthz", HealthApi.as_view(), name="healthz"),
    path("api/v1/platform-key", PlatformKeyApi.as_view(), name="platform-key"),
    path("catalog/", include("catalog.urls")),
    path("api/v1/catalog/", include("catalog.api_urls")),
    path("api/v1/audit/checkpoint", CheckpointApi.as_view(), name="audit-checkpoint"),
    path("api/v1/audit/proof/inclusion", InclusionProofApi.as_view(), name="audit-inclusion-proof"),
    path("api/v1/audit/proof/consistency", ConsistencyProofApi.as_view(), name="audit-consistency-proof"),
    path("api/v1/audit/cosignatures", CosignatureApi.as_view(), name="audit-cosignatures"),
    path("api/v1/", include("exchange.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Its script served apart and its page free of inline styles, under the strict Content Security Policy.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="govplatform/api_docs.html"),
        name="api-docs",
    ),
]
