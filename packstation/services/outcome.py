"""What a desk shows and sounds for one action: a verdict, its words, and data for the window."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from packstation.domain.packing import Verdict


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    message: str
    sku: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.verdict.tone.value in ("ok", "info", "prompt")


def storage_failed(exc: BaseException, what: str = "scan again") -> Outcome:
    return Outcome(Verdict.STORAGE_FAILED, f"NOT SAVED — {what}. {exc}")


__all__ = ["Outcome", "storage_failed"]
