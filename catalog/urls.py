"""The public catalogue (server-rendered pages) and its DCAT-AP 3 export; anonymous visitors welcome."""

from django.urls import path, re_path

from . import dcat, views

app_name = "catalog"

urlpatterns = [
    path("", views.catalogue_index, name="index"),
    path("datasets/<slug:identifier>", views.dataset_page, name="dataset"),
    re_path(r"^datasets/(?P<identifier>[-a-zA-Z0-9_]+)/download\.(?P<fmt>csv|json)$", views.dataset_download,
            name="download"),
    re_path(r"^dcat\.(?P<fmt>ttl|jsonld)$", dcat.catalogue_rdf, name="dcat"),
    re_path(r"^datasets/(?P<identifier>[-a-zA-Z0-9_]+)/dcat\.(?P<fmt>ttl|jsonld)$", dcat.dataset_rdf,
            name="dataset_dcat"),
]
