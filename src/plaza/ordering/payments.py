"""The payment provider protocol, and its registry.

Plaza talks to payment providers through four calls, each keyed by an idempotency key
that Plaza derives from its own payment or refund id: a retried call (after a timeout or a
crash) returns the provider's first outcome instead of charging twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from plaza.errors import problem_type

PAYMENT_DECLINED = problem_type(
    "payment-declined",
    "Payment declined",
    402,
    "The payment provider declined the payment method. `decline_code` says why; the orders "
    "stay reserved until their reservations expire, so pay again with another method.",
)
PAYMENT_PENDING = problem_type(
    "payment-pending",
    "Payment outcome unknown",
    503,
    "The payment provider did not answer in time. Retry the same request with the same "
    "Idempotency-Key: Plaza resumes it and never charges twice.",
)
PAYMENT_INVALID = problem_type(
    "payment-invalid",
    "Payment operation not possible",
    409,
    "The payment is not in a state that allows this operation (e.g. refund above captured).",
)


class ProviderTimeoutError(Exception):
    """The provider did not answer; the outcome is unknown until the call is retried."""


ProviderStatus = Literal["authorized", "captured", "voided", "refunded", "failed"]


@dataclass(frozen=True)
class ProviderResult:
    status: ProviderStatus
    reference: str | None
    amount: int
    decline_code: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"


class PaymentProvider(Protocol):
    name: str

    def authorize(
        self, *, key: str, amount: int, currency: str, token: str, capture: bool = False
    ) -> ProviderResult:
        """Hold (and with ``capture`` also take) ``amount`` on the method behind ``token``."""
        ...

    def capture(self, *, key: str, reference: str, amount: int) -> ProviderResult:
        """Take up to the authorised amount."""
        ...

    def void(self, *, key: str, reference: str) -> ProviderResult:
        """Release an authorisation that was never captured."""
        ...

    def refund(self, *, key: str, reference: str, amount: int) -> ProviderResult:
        """Return up to the captured-and-not-yet-refunded amount."""
        ...
