"""Catalogue API (being built: issue 7)."""
from rest_framework.views import APIView


class DatasetListApi(APIView):
    pass


class DatasetDetailApi(APIView):
    pass
