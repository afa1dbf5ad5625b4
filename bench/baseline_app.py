"""The simplest intake that could work, for comparison: store the raw JSON body, nothing else.

No validation, extraction, linking, audit or numbering. bench/intake.py runs it under the same server
settings as fanzha, so the ratio shows what the real intake's guarantees cost.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, Request
from sqlalchemy import Column, Integer, MetaData, Table, Text, create_engine

engine = create_engine(os.environ["BASELINE_DATABASE_URL"], pool_size=20)
meta = MetaData()
reports = Table("baseline_reports", meta, Column("id", Integer, primary_key=True), Column("body", Text))
meta.create_all(engine)
app = FastAPI()


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/api/v1/reports", status_code=201)
async def file_report(request: Request) -> dict[str, Any]:
    body = (await request.body()).decode()
    with engine.begin() as conn:
        new_id = conn.execute(reports.insert().values(body=body)).inserted_primary_key
    return {"id": new_id[0] if new_id else None}
