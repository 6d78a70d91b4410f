"""Routes of this package (thin: parse, call services, answer)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
