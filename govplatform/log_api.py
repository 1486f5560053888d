"""The audit log's public proofs: the latest signed checkpoint, inclusion and consistency proofs (RFC 9162).

Public, as the tree's hashes reveal nothing about the events: anyone holding a receipt (``Audit-Event``,
``Audit-Leaf-Hash``) checks that its event is in the log that the platform signed, and anyone holding an
older checkpoint checks that the log only grew since. Every proof costs two queries, whatever the log's size.
"""

import re
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.proofs import checkpoint_latest, consistency_for, inclusion_for
from audit.witnesses import cosignature_add, cosignature_lines
from core.errors import ErrorCode, PlatformError, error_responses
from core.keys import platform_key

HEX_HASH = re.compile(r"[0-9a-fA-F]{64}")
_HASHES = serializers.ListField(child=serializers.CharField(), help_text=_(
    "The proof's hashes, hex, in RFC 9162's order (from the leaf up; for consistency, as PROOF(m, D[n]))."))


def _whole(request: Request, name: str, *, required: bool = False) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        if required:
            raise PlatformError(ErrorCode.PROOF_SIZE, _("%(name)s is required.") % {"name": name})
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise PlatformError(ErrorCode.PROOF_SIZE, _("%(name)s is a whole number, e.g. 42.") % {"name": name})
    return int(raw)


def _size_parameter(name: str, description: Any, *, required: bool = False) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.INT, OpenApiParameter.QUERY, required=required, description=description)


class CheckpointApi(APIView):
    permission_classes = [AllowAny]
    error_codes = (ErrorCode.NOT_ACCEPTABLE, ErrorCode.PROOF_SIZE, ErrorCode.NO_CHECKPOINT,
                   ErrorCode.SIGNING_KEY_UNAVAILABLE)

    @extend_schema(
        summary=_("The audit log's latest signed checkpoint (a C2SP signed note)"),
        description=_("Verify `note` with the platform's pinned public key: its body is the origin, the tree "
                      "size and the base64 root hash, each on a line; its signature line is the C2SP signed-note "
                      "format (Ed25519), followed by the witnesses' cosignature lines. `tree_size` asks for an older "
                      "checkpoint (witnesses cosign a little behind the newest)."),
        parameters=[_size_parameter("tree_size", _("The size of the checkpoint wanted; the newest by default."))],
        responses={200: inline_serializer("LogCheckpoint", {
            "origin": serializers.CharField(), "tree_size": serializers.IntegerField(),
            "root_hash": serializers.CharField(help_text=_("hex")), "created_at": serializers.DateTimeField(),
            "note": serializers.CharField(help_text=_("The C2SP signed note, verbatim, with the witnesses' "
                                                      "cosignature lines.")),
            "cosignatures": serializers.ListField(child=serializers.CharField(), help_text=_(
                "The witnesses that cosigned this checkpoint.")),
        }), **error_responses(error_codes)},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        checkpoint = checkpoint_latest(tree_size=_whole(request, "tree_size"))
        raw = platform_key().public_key.public_bytes_raw()
        lines = cosignature_lines(checkpoint)
        return Response({"origin": checkpoint.origin, "tree_size": checkpoint.tree_size,
                         "root_hash": checkpoint.root_hash, "created_at": checkpoint.created_at.isoformat(),
                         "note": checkpoint.signed_note(raw) + "".join(f"{line}\n" for line in lines),
                         "cosignatures": [line[2:].split(" ", 1)[0] for line in lines]})


class InclusionProofApi(APIView):
    permission_classes = [AllowAny]
    error_codes = (ErrorCode.NOT_ACCEPTABLE, ErrorCode.INVALID_INPUT, ErrorCode.PROOF_SIZE, ErrorCode.LEAF_NOT_FOUND,
                   ErrorCode.AUDIT_UNAVAILABLE)

    @extend_schema(
        summary=_("An inclusion proof: this event is in the tree of that size"),
        description=_("Name the event by its receipt's `Audit-Leaf-Hash` (`leaf_hash`) or by its `index`; "
                      "`tree_size` is the size of a checkpoint you hold (by default the log's current size, which "
                      "may be ahead of the latest checkpoint by a few seconds)."),
        parameters=[
            OpenApiParameter("leaf_hash", OpenApiTypes.STR, OpenApiParameter.QUERY, required=False,
                             description=_("The event's leaf hash, 64 hex digits (the Audit-Leaf-Hash header).")),
            _size_parameter("index", _("The event's leaf index, from 0.")),
            _size_parameter("tree_size", _("The tree size to prove against.")),
        ],
        responses={200: inline_serializer("InclusionProof", {
            "index": serializers.IntegerField(), "tree_size": serializers.IntegerField(),
            "leaf_hash": serializers.CharField(), "proof": _HASHES,
        }), **error_responses(error_codes)},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        leaf_hash = request.query_params.get("leaf_hash") or None
        index = _whole(request, "index")
        if (leaf_hash is None) == (index is None):
            raise PlatformError(ErrorCode.INVALID_INPUT, _("Name the event by leaf_hash or by index (one of them)."))
        if leaf_hash is not None and not HEX_HASH.fullmatch(leaf_hash):
            raise PlatformError(ErrorCode.INVALID_INPUT, _("leaf_hash is 64 hex digits (SHA-256)."))
        proof = inclusion_for(leaf_hash=leaf_hash, index=index, tree_size=_whole(request, "tree_size"))
        return Response({"index": proof.index, "tree_size": proof.tree_size, "leaf_hash": proof.leaf_hash,
                         "proof": proof.proof})


class ConsistencyProofApi(APIView):
    permission_classes = [AllowAny]
    error_codes = (ErrorCode.NOT_ACCEPTABLE, ErrorCode.PROOF_SIZE, ErrorCode.AUDIT_UNAVAILABLE)

    @extend_schema(
        summary=_("A consistency proof: the tree of `first` leaves is a prefix of the tree of `second`"),
        description=_("Hold an older checkpoint? This proves the log only grew since: nothing in it was changed "
                      "or removed. `second` defaults to the log's current size."),
        parameters=[_size_parameter("first", _("The older tree size."), required=True),
                    _size_parameter("second", _("The newer tree size."))],
        responses={200: inline_serializer("ConsistencyProof", {
            "first": serializers.IntegerField(), "second": serializers.IntegerField(), "proof": _HASHES,
        }), **error_responses(error_codes)},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        first = _whole(request, "first", required=True)
        assert first is not None
        second, proof = consistency_for(first=first, second=_whole(request, "second"))
        return Response({"first": first, "second": second, "proof": proof})


class CosignatureApi(APIView):
    permission_classes = [AllowAny]
    error_codes = (ErrorCode.NOT_ACCEPTABLE, ErrorCode.INVALID_JSON, ErrorCode.INVALID_INPUT,
                   ErrorCode.COSIGNATURE_INVALID, ErrorCode.UNKNOWN_WITNESS, ErrorCode.NO_CHECKPOINT)

    @extend_schema(
        summary=_("A witness submits its cosignature of a checkpoint (C2SP cosignature/v1)"),
        description=_("The cosignature is its own authentication: it must verify with the registered witness's "
                      "key over the checkpoint of `tree_size`. `python -m audit.witness` makes and submits it."),
        request=inline_serializer("CosignatureIn", {
            "witness": serializers.CharField(), "tree_size": serializers.IntegerField(),
            "timestamp": serializers.IntegerField(), "signature": serializers.CharField(help_text=_("base64")),
        }),
        responses={201: inline_serializer("CosignatureOut", {
            "witness": serializers.CharField(), "tree_size": serializers.IntegerField()}),
            **error_responses(error_codes)},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        body = request.data
        if not isinstance(body, dict):
            raise PlatformError(ErrorCode.INVALID_JSON)
        try:
            witness, signature = str(body["witness"]), str(body["signature"])
            tree_size, timestamp = int(body["tree_size"]), int(body["timestamp"])
        except (KeyError, TypeError, ValueError) as exc:
            raise PlatformError(ErrorCode.INVALID_INPUT, _(
                "Send witness, tree_size, timestamp (whole numbers) and signature (base64).")) from exc
        cosignature_add(witness_name=witness, tree_size=tree_size, timestamp=timestamp, signature=signature)
        return Response({"witness": witness, "tree_size": tree_size}, status=201)
