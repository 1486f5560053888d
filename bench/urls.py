"""The platform's URLs plus the two baseline views (bench settings only)."""

from django.urls import path

from govplatform.urls import handler404, handler500
from govplatform.urls import urlpatterns as platform_urlpatterns

from .views import TokenRecordApi, bare_record_view

__all__ = ["handler404", "handler500", "urlpatterns"]

urlpatterns = [
    *platform_urlpatterns,
    path("bench/bare/<str:dataset_id>/<str:key>", bare_record_view, name="bench-bare"),
    path("bench/token/<str:dataset_id>/<str:key>", TokenRecordApi.as_view(), name="bench-token"),
]
