"""Create, read, update and delete a part through the API."""


def test_create_part_returns_201_with_generated_ids(client, auth_headers):
    body = {"name": "Drive Gear", "material": "7075", "subsystem": "Drive", "type": "cnc"}
    response = client.post("/api/parts/", json=body, headers=auth_headers)
    assert response.status_code == 201
    part = response.get_json()
    assert part["partId"] == part["uuid"][:8]
    assert part["category"] == "review" and part["status"] == "Pending"
    assert part["createdAt"].endswith("+00:00")
