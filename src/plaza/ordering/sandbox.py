"""The built-in sandbox payment provider: a realistic stand-in for a card processor.

It keeps its own ledger (``sandbox_payments``), honours idempotency keys like a real
provider, and knows Stripe-style test tokens:

=========================  =============================================
``tok_visa``, ``tok_mastercard``, ``tok_amex``   succeed
``tok_declined``           declined, ``card_declined``
``tok_insufficient_funds`` declined, ``insufficient_funds``
``tok_expired_card``       declined, ``expired_card``
``tok_timeout``            first call per key times out *after* charging; a retry
                           with the same key returns the charge
=========================  =============================================

Fault injection (``PLAZA_SANDBOX_FAILURE_RATE``, ``PLAZA_SANDBOX_TIMEOUT_RATE``) declines or
times out a share of calls at random, for reliability tests.
"""

from __future__ import annotations

import random
import secrets
import threading
from typing import Any, cast

from sqlalchemy import BigInteger, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from plaza.db import Base, Database, IdMixin, TimestampMixin
from plaza.ordering.payments import ProviderResult, ProviderStatus, ProviderTimeoutError

SUCCESS_TOKENS = {"tok_visa", "tok_mastercard", "tok_amex"}
DECLINE_TOKENS = {
    "tok_declined": "card_declined",
    "tok_insufficient_funds": "insufficient_funds",
    "tok_expired_card": "expired_card",
}
TIMEOUT_TOKEN = "tok_timeout"


class SandboxOperation(IdMixin, TimestampMixin, Base):
    """The sandbox provider's own ledger, one row per idempotency key."""

    __tablename__ = "sandbox_payments"

    key: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # authorize | capture | void | refund
    reference: Mapped[str] = mapped_column(String(100), index=True)  # the charge it concerns
    status: Mapped[str] = mapped_column(String(20))
    token: Mapped[str | None] = mapped_column(String(100))
    currency: Mapped[str | None] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    decline_code: Mapped[str | None] = mapped_column(String(50))
    timed_out_once: Mapped[bool] = mapped_column(default=False)


class SandboxProvider:
    name = "sandbox"

    def __init__(
        self,
        db: Database,
        *,
        failure_rate: float = 0.0,
        timeout_rate: float = 0.0,
        seed: int | None = None,
    ) -> None:
        self.db = db
        self.failure_rate = failure_rate
        self.timeout_rate = timeout_rate
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def _roll(self) -> float:
        with self._lock:
            return self._rng.random()

    def _replay(self, key: str) -> SandboxOperation | None:
        with self.db.reading() as s:
            return s.scalar(select(SandboxOperation).where(SandboxOperation.key == key))

    def _record(self, **fields: Any) -> SandboxOperation:
        try:
            with self.db.transaction() as s:
                op = SandboxOperation(**fields)
                s.add(op)
            return op
        except IntegrityError:  # the same key raced in: the first one wins
            existing = self._replay(fields["key"])
            assert existing is not None
            return existing

    @staticmethod
    def _result(op: SandboxOperation) -> ProviderResult:
        return ProviderResult(
            status=cast(ProviderStatus, op.status),
            reference=op.reference,
            amount=op.amount,
            decline_code=op.decline_code,
            message=op.decline_code,
        )

    def _inject(self) -> str | None:
        if self.timeout_rate and self._roll() < self.timeout_rate:
            return "timeout"
        if self.failure_rate and self._roll() < self.failure_rate:
            return "processing_error"
        return None

    def authorize(
        self, *, key: str, amount: int, currency: str, token: str, capture: bool = False
    ) -> ProviderResult:
        previous = self._replay(key)
        if previous is not None:
            if previous.timed_out_once and token == TIMEOUT_TOKEN:
                self._clear_timeout(previous.id)
            return self._result(previous)
        fault = self._inject()
        if fault == "timeout" and self._roll() < 0.5:
            raise ProviderTimeoutError("sandbox timed out before charging")
        decline = DECLINE_TOKENS.get(token)
        if token not in SUCCESS_TOKENS and token != TIMEOUT_TOKEN and decline is None:
            decline = "invalid_token"
        if fault == "processing_error":
            decline = "processing_error"
        status = "failed" if decline else ("captured" if capture else "authorized")
        op = self._record(
            key=key,
            kind="authorize",
            reference=f"ch_{secrets.token_hex(12)}",
            status=status,
            token=token,
            currency=currency,
            amount=amount,
            decline_code=decline,
            timed_out_once=token == TIMEOUT_TOKEN,
        )
        if (token == TIMEOUT_TOKEN and op.timed_out_once) or fault == "timeout":
            raise ProviderTimeoutError("sandbox timed out after charging")
        return self._result(op)

    def _clear_timeout(self, op_id: Any) -> None:
        with self.db.transaction() as s:
            op = s.get(SandboxOperation, op_id)
            if op is not None:
                op.timed_out_once = False

    def _charge(self, reference: str) -> SandboxOperation | None:
        with self.db.reading() as s:
            return s.scalar(
                select(SandboxOperation).where(
                    SandboxOperation.reference == reference, SandboxOperation.kind == "authorize"
                )
            )

    def _balance(self, reference: str, kind: str) -> int:
        with self.db.reading() as s:
            rows = s.scalars(
                select(SandboxOperation.amount).where(
                    SandboxOperation.reference == reference,
                    SandboxOperation.kind == kind,
                    SandboxOperation.status != "failed",
                )
            )
            return sum(rows)

    def _follow_up(
        self, *, key: str, kind: str, reference: str, amount: int, allowed: int, ok_status: str
    ) -> ProviderResult:
        previous = self._replay(key)
        if previous is not None:
            return self._result(previous)
        if self._inject() == "timeout":
            raise ProviderTimeoutError(f"sandbox timed out on {kind}")
        decline = None if 0 < amount <= allowed else "amount_invalid"
        op = self._record(
            key=key,
            kind=kind,
            reference=reference,
            status="failed" if decline else ok_status,
            token=None,
            currency=None,
            amount=amount,
            decline_code=decline,
        )
        return self._result(op)

    def capture(self, *, key: str, reference: str, amount: int) -> ProviderResult:
        charge = self._charge(reference)
        allowed = 0
        if charge is not None and charge.status == "authorized":
            allowed = charge.amount - self._balance(reference, "capture")
        return self._follow_up(
            key=key,
            kind="capture",
            reference=reference,
            amount=amount,
            allowed=allowed,
            ok_status="captured",
        )

    def void(self, *, key: str, reference: str) -> ProviderResult:
        charge = self._charge(reference)
        allowed = 0
        if (
            charge is not None
            and charge.status == "authorized"
            and self._balance(reference, "capture") == 0
        ):
            allowed = charge.amount
        return self._follow_up(
            key=key,
            kind="void",
            reference=reference,
            amount=allowed or 1,
            allowed=allowed,
            ok_status="voided",
        )

    def refund(self, *, key: str, reference: str, amount: int) -> ProviderResult:
        charge = self._charge(reference)
        captured = 0
        if charge is not None:
            captured = (
                charge.amount
                if charge.status == "captured"
                else self._balance(reference, "capture")
            )
        allowed = captured - self._balance(reference, "refund")
        return self._follow_up(
            key=key,
            kind="refund",
            reference=reference,
            amount=amount,
            allowed=allowed,
            ok_status="refunded",
        )

    # Reconciliation, as a provider's dashboard would offer it.
    def net_captured(self, reference: str) -> int:
        charge = self._charge(reference)
        if charge is None:
            return 0
        captured = (
            charge.amount if charge.status == "captured" else self._balance(reference, "capture")
        )
        return captured - self._balance(reference, "refund")
