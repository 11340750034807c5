"""The reference for bench/status_vs_bare.py: a bare FastAPI endpoint returning a dict.

No middleware, no dependencies, no database: what one uvicorn worker can answer at best.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

app = FastAPI()

BODY: dict[str, Any] = {
    "job_id": "00000000-0000-0000-0000-000000000000",
    "model_name": "tiny",
    "status": "completed",
    "stage": "done",
    "progress": 1.0,
    "metrics": {"accuracy": 0.97},
}


@app.get("/v1/training-jobs/{job_id}")
async def get_status(job_id: str) -> dict[str, Any]:
    return {**BODY, "job_id": job_id}
