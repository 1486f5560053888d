from django.urls import path, re_path

from . import views

urlpatterns = [
    path("grants", views.GrantsApi.as_view(), name="grants-mine"),
    path("datasets/<str:dataset_id>/records", views.RecordListApi.as_view(), name="records-list"),
    path("datasets/<str:dataset_id>/lookup", views.RecordLookupApi.as_view(), name="records-lookup"),
    path("datasets/<str:dataset_id>/records/<str:key>", views.RecordReadApi.as_view(), name="record-read"),
    path("datasets/<str:dataset_id>/batches", views.RecordBatchApi.as_view(), name="records-push"),
    path("datasets/<str:dataset_id>/exports", views.ExportCreateApi.as_view(), name="exports-create"),
    path("exports/<str:export_id>", views.ExportStatusApi.as_view(), name="export-status"),
    path("exports/<str:export_id>/download", views.ExportDownloadApi.as_view(), name="export-download"),
    # Any other address under /api/v1/: a signed, audited JSON 404 (keep last).
    re_path(r"^.*$", views.ExchangeNotFoundApi.as_view(), name="api-not-found"),
]
