from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .views import HealthApi, PlatformKeyApi

handler404 = "govplatform.views.not_found"
handler500 = "govplatform.views.server_error"

admin.site.site_header = "Government data-sharing platform"
admin.site.site_title = "Data-sharing platform"
admin.site.index_title = "Catalogue, exchange and audit"

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the language chooser posts here
    path("admin/", admin.site.urls),
    path("healthz", HealthApi.as_view(), name="healthz"),
    path("api/v1/platform-key", PlatformKeyApi.as_view(), name="platform-key"),
    path("api/v1/", include("exchange.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
