from django.urls import path

from .views import RecordReadApi

urlpatterns = [
    path("datasets/<str:dataset_id>/records/<str:key>", RecordReadApi.as_view(), name="record-read"),
]
