"""Pre-filing (预备案): operators file their premises' property facts, clerks approve or return them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import User
from siteselect import filings

router = APIRouter(tags=["pre-filing"])
DATE = r"^\d{4}-\d{2}-\d{2}$"
FilingId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class Filing(BaseModel):
    """A listing's property facts, as its certificate states them."""

    model_config = ConfigDict(extra="forbid", strict=True)
    vacancy_id: Annotated[str, Field(min_length=1, max_length=200)]
    certificate_no: Annotated[str, Field(min_length=1, max_length=filings.FACTS["certificate_no"])]
    owner: Annotated[str, Field(min_length=1, max_length=filings.FACTS["owner"])]
    registered_use: Annotated[str, Field(min_length=1, max_length=filings.FACTS["registered_use"])]
    valid_until: Annotated[str, Field(pattern=DATE, description="YYYY-MM-DD, not yet past")]


class Return(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    reason: Annotated[
        str, Field(min_length=1, max_length=500, description="what the operator must put right")
    ]


@router.get("/filings")
def list_filings(
    request: Request,
    user: User,
    status: Annotated[Literal["pending", "approved", "returned"] | None, Query()] = None,
    park: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> list[dict[str, Any]]:
    """Filings, newest first: a clerk's queue (``status=pending``), an operator's own parks' only."""
    return filings.filings_of(request.app.state.store, user, status=status, park=park)


@router.post("/filings", status_code=201)
def file_premises(request: Request, user: User, body: Filing) -> dict[str, Any]:
    """File a listing's property facts; the filing waits for a clerk."""
    return filings.file(request.app.state.store, user, body.model_dump())


@router.post("/filings/{filing_id}/approve")
def approve(request: Request, filing_id: FilingId, user: User) -> dict[str, Any]:
    """Approve a waiting filing: it gets its number and the premises count as pre-filed in checks."""
    done = filings.decide(request.app.state.store, user, filing_id, approve=True)
    request.app.state.catalog.refresh()  # every check of this worker shows it from the next request
    return done


@router.post("/filings/{filing_id}/return")
def return_filing(request: Request, filing_id: FilingId, user: User, body: Return) -> dict[str, Any]:
    """Return a waiting filing to its operator with the reason."""
    return filings.decide(request.app.state.store, user, filing_id, approve=False, reason=body.reason)
