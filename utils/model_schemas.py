"""GET /model's query string: which variant of the GLB a client wants, or which it decodes."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate
from webargs.fields import DelimitedList

from utils.model_variants import MESHOPT, QUANTIZED, RAW


class ModelQuerySchema(Schema):
    """No parameters: the quantised GLB every GLTFLoader reads (README "3D models")."""

    class Meta:
        unknown = EXCLUDE

    compression = DelimitedList(
        # No commas in a name: the list is split on them after the query is decoded, so an
        # encoded one (%2C) in a name would make two (the document says so with a pattern).
        fields.String(validate=[validate.Length(max=40), validate.Regexp("^[^,]*$")]),
        load_default=[],
        validate=validate.Length(max=10),
        metadata={
            "description": "Decoders the client has, comma-separated: `meshopt` gets the "
            "EXT_meshopt_compression GLB (the smallest). Unknown names are ignored."
        },
    )
    variant = fields.String(
        validate=validate.OneOf(
            [RAW, QUANTIZED, MESHOPT], error=f"variant must be {RAW}, {QUANTIZED} or {MESHOPT}"
        ),
        metadata={
            "description": f"A variant by name, whatever `compression` says: `{RAW}` is "
            "cascadio's GLB as converted. A variant not stored (a model converted before "
            "variants existed, or one the optimiser did not take on) falls back to the next "
            "larger one: meshopt, quantized, raw."
        },
    )
