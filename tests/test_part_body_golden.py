"""A part's GET body is byte-for-byte what the web app has always read, through every transition."""

from __future__ import annotations

import re

import pytest

TIME = re.compile(rb'"\d{4}-\d\d-\d\dT[0-9:.+\-Z]*"')

# Recorded before categories, statuses and model states became StrEnums; must never change.
EXPECTED = {
    "cnc": {
        "created": (
            b'{"amount":2,"assigned":null,"category":"review","claimedDate":null,"createdA'
            b't":"<time>","file":null,"id":<id>,"material":"6061 Aluminum","materialThickn'
            b'ess":null,"miscInfo":null,"modelError":null,"modelStatus":"none","name":"Gol'
            b'den \\u2713","notes":null,"onshapeUrl":null,"partId":<partId>,"status":"Pendi'
            b'ng","subsystem":"Drive","type":"cnc","updatedAt":"<time>","uuid":"<uuid>"}\n'
        ),
        "approved": (
            b'{"amount":2,"assigned":null,"category":"cnc","claimedDate":null,"createdAt":'
            b'"<time>","file":null,"id":<id>,"material":"6061 Aluminum","materialThickness'
            b'":null,"miscInfo":{"reviewer":"Ms. Rivera"},"modelError":null,"modelStatus":'
            b'"none","name":"Golden \\u2713","notes":null,"onshapeUrl":null,"partId":<partI'
            b'd>,"status":"Reviewed","subsystem":"Drive","type":"cnc","updatedAt":"<time>"'
            b',"uuid":"<uuid>"}\n'
        ),
        "claimed": (
            b'{"amount":2,"assigned":"Alice","category":"cnc","claimedDate":"<time>","crea'
            b'tedAt":"<time>","file":null,"id":<id>,"material":"6061 Aluminum","materialTh'
            b'ickness":null,"miscInfo":{"reviewer":"Ms. Rivera"},"modelError":null,"modelS'
            b'tatus":"none","name":"Golden \\u2713","notes":null,"onshapeUrl":null,"partId"'
            b':<partId>,"status":"In Progress","subsystem":"Drive","type":"cnc","updatedAt'
            b'":"<time>","uuid":"<uuid>"}\n'
        ),
        "unclaimed": (
            b'{"amount":2,"assigned":null,"category":"cnc","claimedDate":null,"createdAt":'
            b'"<time>","file":null,"id":<id>,"material":"6061 Aluminum","materialThickness'
            b'":null,"miscInfo":{"reviewer":"Ms. Rivera"},"modelError":null,"modelStatus":'
            b'"none","name":"Golden \\u2713","notes":null,"onshapeUrl":null,"partId":<partI'
            b'd>,"status":"Already Started","subsystem":"Drive","type":"cnc","updatedAt":"'
            b'<time>","uuid":"<uuid>"}\n'
        ),
        "reclaimed": (
            b'{"amount":2,"assigned":"Alice","category":"cnc","claimedDate":"<time>","crea'
            b'tedAt":"<time>","file":null,"id":<id>,"material":"6061 Aluminum","materialTh'
            b'ickness":null,"miscInfo":{"reviewer":"Ms. Rivera"},"modelError":null,"modelS'
            b'tatus":"none","name":"Golden \\u2713","notes":null,"onshapeUrl":null,"partId"'
            b':<partId>,"status":"In Progress","subsystem":"Drive","type":"cnc","updatedAt'
            b'":"<time>","uuid":"<uuid>"}\n'
        ),
        "completed": (
            b'{"amount":2,"assigned":"Alice","category":"completed","claimedDate":"<time>"'
            b',"createdAt":"<time>","file":null,"id":<id>,"material":"6061 Aluminum","mate'
            b'rialThickness":null,"miscInfo":{"completed_at":"<time>","reviewer":"Ms. Rive'
            b'ra","storage":"Bin 4"},"modelError":null,"modelStatus":"none","name":"Golden'
            b' \\u2713","notes":null,"onshapeUrl":null,"partId":<partId>,"status":"Complete'
            b'd","subsystem":"Drive","type":"cnc","updatedAt":"<time>","uuid":"<uuid>"}\n'
        ),
        "reverted": (
            b'{"amount":2,"assigned":"Alice","category":"cnc","claimedDate":"<time>","crea'
            b'tedAt":"<time>","file":null,"id":<id>,"material":"6061 Aluminum","materialTh'
            b'ickness":null,"miscInfo":{"reviewer":"Ms. Rivera","storage":"Bin 4"},"modelE'
            b'rror":null,"modelStatus":"none","name":"Golden \\u2713","notes":null,"onshape'
            b'Url":null,"partId":<partId>,"status":"In Progress","subsystem":"Drive","type'
            b'":"cnc","updatedAt":"<time>","uuid":"<uuid>"}\n'
        ),
    },
    "hand": {
        "created": (
            b'{"amount":2,"assigned":null,"category":"review","claimedDate":null,"createdA'
            b't":"<time>","file":null,"id":<id>,"material":"6061 Aluminum","materialThickn'
            b'ess":null,"miscInfo":null,"modelError":null,"modelStatus":"none","name":"Gol'
            b'den \\u2713","notes":null,"onshapeUrl":null,"partId":<partId>,"status":"Pendi'
            b'ng","subsystem":"Drive","type":"hand","updatedAt":"<time>","uuid":"<uuid>"}\n'
        ),
        "approved": (
            b'{"amount":2,"assigned":null,"category":"hand","claimedDate":null,"createdAt"'
            b':"<time>","file":null,"id":<id>,"material":"6061 Aluminum","materialThicknes'
            b's":null,"miscInfo":{"reviewer":"Ms. Rivera"},"modelError":null,"modelStatus"'
            b':"none","name":"Golden \\u2713","notes":null,"onshapeUrl":null,"partId":<part'
            b'Id>,"status":"Reviewed","subsystem":"Drive","type":"hand","updatedAt":"<time'
            b'>","uuid":"<uuid>"}\n'
        ),
        "claimed": (
            b'{"amount":2,"assigned":"Alice","category":"hand","claimedDate":"<time>","cre'
            b'atedAt":"<time>","file":null,"id":<id>,"material":"6061 Aluminum","materialT'
            b'hickness":null,"miscInfo":{"handWorkers":[{"name":"Alice","timestamp":"<time'
            b'>"}],"reviewer":"Ms. Rivera"},"modelError":null,"modelStatus":"none","name":'
            b'"Golden \\u2713","notes":null,"onshapeUrl":null,"partId":<partId>,"status":"I'
            b'n Progress","subsystem":"Drive","type":"hand","updatedAt":"<time>","uuid":"<'
            b'uuid>"}\n'
        ),
        "unclaimed": (
            b'{"amount":2,"assigned":null,"category":"hand","claimedDate":null,"createdAt"'
            b':"<time>","file":null,"id":<id>,"material":"6061 Aluminum","materialThicknes'
            b's":null,"miscInfo":{"handWorkers":[{"name":"Alice","timestamp":"<time>"}],"r'
            b'eviewer":"Ms. Rivera"},"modelError":null,"modelStatus":"none","name":"Golden'
            b' \\u2713","notes":null,"onshapeUrl":null,"partId":<partId>,"status":"Already '
            b'Started","subsystem":"Drive","type":"hand","updatedAt":"<time>","uuid":"<uui'
            b'd>"}\n'
        ),
        "reclaimed": (
            b'{"amount":2,"assigned":"Alice","category":"hand","claimedDate":"<time>","cre'
            b'atedAt":"<time>","file":null,"id":<id>,"material":"6061 Aluminum","materialT'
            b'hickness":null,"miscInfo":{"handWorkers":[{"name":"Alice","timestamp":"<time'
            b'>"},{"name":"Alice","timestamp":"<time>"}],"reviewer":"Ms. Rivera"},"modelEr'
            b'ror":null,"modelStatus":"none","name":"Golden \\u2713","notes":null,"onshapeU'
            b'rl":null,"partId":<partId>,"status":"In Progress","subsystem":"Drive","type"'
            b':"hand","updatedAt":"<time>","uuid":"<uuid>"}\n'
        ),
        "completed": (
            b'{"amount":2,"assigned":"Alice","category":"completed","claimedDate":"<time>"'
            b',"createdAt":"<time>","file":null,"id":<id>,"material":"6061 Aluminum","mate'
            b'rialThickness":null,"miscInfo":{"completed_at":"<time>","handWorkers":[{"nam'
            b'e":"Alice","timestamp":"<time>"},{"name":"Alice","timestamp":"<time>"}],"rev'
            b'iewer":"Ms. Rivera","storage":"Bin 4"},"modelError":null,"modelStatus":"none'
            b'","name":"Golden \\u2713","notes":null,"onshapeUrl":null,"partId":<partId>,"s'
            b'tatus":"Completed","subsystem":"Drive","type":"hand","updatedAt":"<time>","u'
            b'uid":"<uuid>"}\n'
        ),
        "reverted": (
            b'{"amount":2,"assigned":"Alice","category":"hand","claimedDate":"<time>","cre'
            b'atedAt":"<time>","file":null,"id":<id>,"material":"6061 Aluminum","materialT'
            b'hickness":null,"miscInfo":{"handWorkers":[{"name":"Alice","timestamp":"<time'
            b'>"},{"name":"Alice","timestamp":"<time>"}],"reviewer":"Ms. Rivera","storage"'
            b':"Bin 4"},"modelError":null,"modelStatus":"none","name":"Golden \\u2713","not'
            b'es":null,"onshapeUrl":null,"partId":<partId>,"status":"In Progress","subsyst'
            b'em":"Drive","type":"hand","updatedAt":"<time>","uuid":"<uuid>"}\n'
        ),
    },
    "misc": {
        "created": (
            b'{"amount":2,"assigned":null,"category":"review","claimedDate":null,"createdA'
            b't":"<time>","file":null,"id":<id>,"material":"6061 Aluminum","materialThickn'
            b'ess":null,"miscInfo":null,"modelError":null,"modelStatus":"none","name":"Gol'
            b'den \\u2713","notes":null,"onshapeUrl":null,"partId":<partId>,"status":"Pendi'
            b'ng","subsystem":"Drive","type":"misc","updatedAt":"<time>","uuid":"<uuid>"}\n'
        ),
        "approved": (
            b'{"amount":2,"assigned":null,"category":"misc","claimedDate":null,"createdAt"'
            b':"<time>","file":null,"id":<id>,"material":"6061 Aluminum","materialThicknes'
            b's":null,"miscInfo":{"reviewer":"Ms. Rivera"},"modelError":null,"modelStatus"'
            b':"none","name":"Golden \\u2713","notes":null,"onshapeUrl":null,"partId":<part'
            b'Id>,"status":"Reviewed","subsystem":"Drive","type":"misc","updatedAt":"<time'
            b'>","uuid":"<uuid>"}\n'
        ),
        "claimed": (
            b'{"amount":2,"assigned":"Alice","category":"misc","claimedDate":"<time>","cre'
            b'atedAt":"<time>","file":null,"id":<id>,"material":"6061 Aluminum","materialT'
            b'hickness":null,"miscInfo":{"reviewer":"Ms. Rivera"},"modelError":null,"model'
            b'Status":"none","name":"Golden \\u2713","notes":null,"onshapeUrl":null,"partId'
            b'":<partId>,"status":"In Progress","subsystem":"Drive","type":"misc","updated'
            b'At":"<time>","uuid":"<uuid>"}\n'
        ),
        "unclaimed": (
            b'{"amount":2,"assigned":null,"category":"misc","claimedDate":null,"createdAt"'
            b':"<time>","file":null,"id":<id>,"material":"6061 Aluminum","materialThicknes'
            b's":null,"miscInfo":{"reviewer":"Ms. Rivera"},"modelError":null,"modelStatus"'
            b':"none","name":"Golden \\u2713","notes":null,"onshapeUrl":null,"partId":<part'
            b'Id>,"status":"Already Started","subsystem":"Drive","type":"misc","updatedAt"'
            b':"<time>","uuid":"<uuid>"}\n'
        ),
        "reclaimed": (
            b'{"amount":2,"assigned":"Alice","category":"misc","claimedDate":"<time>","cre'
            b'atedAt":"<time>","file":null,"id":<id>,"material":"6061 Aluminum","materialT'
            b'hickness":null,"miscInfo":{"reviewer":"Ms. Rivera"},"modelError":null,"model'
            b'Status":"none","name":"Golden \\u2713","notes":null,"onshapeUrl":null,"partId'
            b'":<partId>,"status":"In Progress","subsystem":"Drive","type":"misc","updated'
            b'At":"<time>","uuid":"<uuid>"}\n'
        ),
        "completed": (
            b'{"amount":2,"assigned":"Alice","category":"completed","claimedDate":"<time>"'
            b',"createdAt":"<time>","file":null,"id":<id>,"material":"6061 Aluminum","mate'
            b'rialThickness":null,"miscInfo":{"completed_at":"<time>","reviewer":"Ms. Rive'
            b'ra","storage":"Bin 4"},"modelError":null,"modelStatus":"none","name":"Golden'
            b' \\u2713","notes":null,"onshapeUrl":null,"partId":<partId>,"status":"Complete'
            b'd","subsystem":"Drive","type":"misc","updatedAt":"<time>","uuid":"<uuid>"}\n'
        ),
        "reverted": (
            b'{"amount":2,"assigned":"Alice","category":"misc","claimedDate":"<time>","cre'
            b'atedAt":"<time>","file":null,"id":<id>,"material":"6061 Aluminum","materialT'
            b'hickness":null,"miscInfo":{"reviewer":"Ms. Rivera","storage":"Bin 4"},"model'
            b'Error":null,"modelStatus":"none","name":"Golden \\u2713","notes":null,"onshap'
            b'eUrl":null,"partId":<partId>,"status":"Reviewed","subsystem":"Drive","type":'
            b'"misc","updatedAt":"<time>","uuid":"<uuid>"}\n'
        ),
    },
}

STEPS = [
    ("created", None, None),
    ("approved", "approve", {"reviewer": "Ms. Rivera"}),
    ("claimed", "assign", {"assigned": "Alice"}),
    ("unclaimed", "unclaim", None),
    ("reclaimed", "assign", {"assigned": "Alice"}),
    ("completed", "complete", {"miscInfo": {"storage": "Bin 4"}}),
    ("reverted", "revert", None),
]


def _masked(body: bytes, part: dict) -> bytes:
    body = body.replace(part["uuid"].encode(), b"<uuid>")
    body = body.replace(f'"partId":"{part["partId"]}"'.encode(), b'"partId":<partId>')
    body = body.replace(f'"id":{part["id"]},'.encode(), b'"id":<id>,')
    return TIME.sub(b'"<time>"', body)


@pytest.mark.parametrize("part_type", ["cnc", "hand", "misc"])
def test_part_body_is_byte_identical_through_the_workflow(
    client, auth_headers, make_part, part_type
):
    part = make_part(name="Golden ✓", type=part_type, amount=2)
    seen = {}
    for name, action, body in STEPS:
        if action:
            kwargs = {} if body is None else {"json": body}
            response = client.post(
                f"/api/parts/{part['id']}/{action}", headers=auth_headers, **kwargs
            )
            assert response.status_code == 200, response.get_json()
        response = client.get(f"/api/parts/{part['id']}", headers=auth_headers)
        assert response.status_code == 200
        seen[name] = _masked(response.data, part)
    assert seen == EXPECTED[part_type]
