"""The sandbox payment provider behaves like a real processor: idempotent, with limits."""

from __future__ import annotations

import uuid

import pytest

from plaza.ordering.payments import ProviderTimeoutError
from plaza.ordering.sandbox import SandboxProvider


@pytest.fixture
def sandbox(db):
    return SandboxProvider(db)


def key() -> str:
    return uuid.uuid4().hex


def test_authorize_capture_refund(sandbox):
    auth = sandbox.authorize(key=key(), amount=1000, currency="EUR", token="tok_visa")
    assert auth.status == "authorized" and auth.ok
    assert sandbox.capture(key=key(), reference=auth.reference, amount=1200).status == "failed"
    assert sandbox.capture(key=key(), reference=auth.reference, amount=600).status == "captured"
    assert sandbox.refund(key=key(), reference=auth.reference, amount=700).status == "failed"
    assert sandbox.refund(key=key(), reference=auth.reference, amount=600).status == "refunded"
    assert sandbox.net_captured(auth.reference) == 0


def test_same_key_replays_instead_of_charging_twice(sandbox):
    k = key()
    first = sandbox.authorize(key=k, amount=500, currency="EUR", token="tok_visa", capture=True)
    again = sandbox.authorize(key=k, amount=500, currency="EUR", token="tok_visa", capture=True)
    assert first == again and sandbox.net_captured(first.reference) == 500


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("tok_declined", "card_declined"),
        ("tok_insufficient_funds", "insufficient_funds"),
        ("tok_expired_card", "expired_card"),
        ("tok_bogus", "invalid_token"),
    ],
)
def test_decline_tokens(sandbox, token, code):
    result = sandbox.authorize(key=key(), amount=100, currency="EUR", token=token, capture=True)
    assert result.status == "failed" and result.decline_code == code


def test_timeout_token_charges_once_and_replays(sandbox):
    k = key()
    with pytest.raises(ProviderTimeoutError):
        sandbox.authorize(key=k, amount=900, currency="EUR", token="tok_timeout", capture=True)
    result = sandbox.authorize(key=k, amount=900, currency="EUR", token="tok_timeout", capture=True)
    assert result.status == "captured" and sandbox.net_captured(result.reference) == 900


def test_void_only_uncaptured(sandbox):
    auth = sandbox.authorize(key=key(), amount=100, currency="EUR", token="tok_visa")
    assert sandbox.void(key=key(), reference=auth.reference).status == "voided"
    captured = sandbox.authorize(
        key=key(), amount=100, currency="EUR", token="tok_visa", capture=True
    )
    assert sandbox.void(key=key(), reference=captured.reference).status == "failed"


def test_fault_injection_is_seeded(db):
    outcomes = []
    for _ in range(2):
        sb = SandboxProvider(db, failure_rate=0.3, timeout_rate=0.2, seed=7)
        run = []
        for _ in range(30):
            try:
                run.append(
                    sb.authorize(key=key(), amount=1, currency="EUR", token="tok_visa").status
                )
            except ProviderTimeoutError:
                run.append("timeout")
        outcomes.append(run)
    assert outcomes[0] == outcomes[1]
    assert {"timeout", "failed", "authorized"} <= set(outcomes[0])
