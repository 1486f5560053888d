"""The catalogue API (``/api/v1/catalog/``): the same metadata as the public pages, as JSON."""

from django.urls import path

from . import api

urlpatterns = [
    path("datasets", api.DatasetListApi.as_view(), name="catalog-datasets"),
    path("datasets/<str:identifier>", api.DatasetDetailApi.as_view(), name="catalog-dataset"),
]
