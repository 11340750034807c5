"""The OpenAPI document and the docs pages: local assets, an example for every operation."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from app.core.openapi_examples import OPERATION_EXAMPLES


def test_docs_pages_load_their_assets_from_the_service(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert assets
        for asset in assets:
            assert asset.startswith("/static/docs/"), asset
            response = client.get(asset)
            assert response.status_code == 200, asset
            assert len(response.content) > 1000
        assert "cdn" not in html.lower()
        assert "fonts.googleapis" not in html


def test_every_operation_has_request_and_response_examples(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    missing = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if (method, path) not in OPERATION_EXAMPLES:
                missing.append(f"{method.upper()} {path}: no entry in app/docs_examples.py")
                continue
            # Examples are asked of JSON bodies and text answers; a file upload or a binary
            # download has nothing to show.
            body = operation.get("requestBody", {}).get("content", {})
            if "application/json" in body and not body["application/json"].get("examples"):
                missing.append(f"{method.upper()} {path}: request")
            success = [c for c in operation["responses"] if c.startswith("2")]
            assert success, (method, path)
            for code in success:
                content = operation["responses"][code].get("content", {})
                showable = {k: v for k, v in content.items() if "json" in k or "text" in k}
                if showable and not any("example" in m for m in showable.values()):
                    missing.append(f"{method.upper()} {path}: response {code}")
    assert not missing, missing
    submit_op = schema["paths"]["/v1/training-jobs"]["post"]
    examples = submit_op["requestBody"]["content"]["application/json"]["examples"]
    assert set(examples) == {"iris", "tuning", "csv"}


def test_request_examples_are_accepted_by_the_api(client: TestClient, data_root: Path) -> None:
    (data_root / "customers.csv").write_text(
        "age,plan,monthly_spend,churned\n"
        + "".join(f"{20 + i},{'ab'[i % 2]},{10 + i},{i % 2}\n" for i in range(40))
    )
    examples = OPERATION_EXAMPLES[("post", "/v1/training-jobs")]["request"]
    for name, example in examples.items():
        response = client.post("/v1/training-jobs", json=example["value"])
        assert response.status_code == 202, (name, response.text)
        client.post(f"/v1/training-jobs/{response.json()['job_id']}/cancel")


def test_keyed_operations_name_both_security_schemes(client: TestClient) -> None:
    # Swagger UI's lock and "Authorize" dialog come from these; the status route is served
    # without solving its dependencies, but is documented from them like every other route.
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"] == {
        "HTTPBearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "`Authorization: Bearer <API key>`",
        },
        "APIKeyHeader": {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "The API key, as an alternative header",
        },
    }
    both = [{"HTTPBearer": []}, {"APIKeyHeader": []}]
    assert schema["paths"]["/v1/training-jobs/{job_id}"]["get"]["security"] == both
    assert schema["paths"]["/v1/training-jobs"]["get"]["security"] == both
    assert schema["paths"]["/metrics"]["get"]["security"] == both
    assert "security" not in schema["paths"]["/healthz"]["get"]
