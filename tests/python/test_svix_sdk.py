"""Hookwire driven end to end by the official Svix Python SDK.

Each test uses its own application (unique uid) and its own receiver paths, so tests are
independent of each other and of their order. Deliveries are awaited by polling the receiver
(or the API) with a deadline; nothing sleeps except that polling and one bounded negative check.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Dict, List

import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError
from svix.api import (
    ApplicationIn,
    ApplicationOut,
    EndpointIn,
    EndpointOut,
    EndpointSecretRotateIn,
    EventTypeIn,
    MessageAttemptListByEndpointOptions,
    MessageAttemptListByMsgOptions,
    MessageAttemptOut,
    MessageAttemptTriggerType,
    MessageCreateOptions,
    MessageIn,
    MessageListOptions,
    MessageStatus,
    MessageStatusText,
    Svix,
    SvixOptions,
)
from svix.exceptions import HttpError, HTTPValidationError
from svix.webhooks import Webhook as SvixWebhook

from conftest import Received, Receiver, wait_until

# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def svix(hookwire) -> Svix:
    # No client-side retries: a server error must surface, not be papered over.
    return Svix(hookwire.token, SvixOptions(server_url=hookwire.url, retry_schedule=[]))


def new_app(svix: Svix, name: str) -> ApplicationOut:
    return svix.application.create(ApplicationIn(name=name, uid=unique("app")))


def new_endpoint(
    svix: Svix, app_id: str, url: str, event_types: List[str] | None = None
) -> EndpointOut:
    if event_types is None:
        return svix.endpoint.create(app_id, EndpointIn(url=url))
    return svix.endpoint.create(app_id, EndpointIn(url=url, event_types=event_types))


def attempts_of(
    svix: Svix, app_id: str, msg_id: str, endpoint_id: str | None = None
) -> List[MessageAttemptOut]:
    options = MessageAttemptListByMsgOptions(endpoint_id=endpoint_id, with_content=True)
    return svix.message_attempt.list_by_msg(app_id, msg_id, options).data


def wait_for_attempts(
    svix: Svix, app_id: str, msg_id: str, count: int, endpoint_id: str | None = None
) -> List[MessageAttemptOut]:
    """Attempts are recorded just after the receiver answers: poll until `count` are listed."""

    def enough():
        attempts = attempts_of(svix, app_id, msg_id, endpoint_id)
        return attempts if len(attempts) >= count else None

    return wait_until(enough, what=f"{count} recorded attempt(s) of {msg_id}")


def assert_verifies(secret: str, delivery: Received) -> None:
    """The delivery verifies with both the Standard Webhooks and the Svix verifier."""
    StandardWebhook(secret).verify(delivery.body, delivery.headers)
    SvixWebhook(secret).verify(delivery.body, delivery.headers)


def ids_of(deliveries: List[Received]) -> List[str]:
    return [d.headers["webhook-id"] for d in deliveries]


# --------------------------------------------------------------------------------------------
# a. Signed deliveries
# --------------------------------------------------------------------------------------------


def test_deliveries_are_signed_and_verify_with_both_libraries(svix: Svix, receiver: Receiver):
    uid = unique("app")
    app = svix.application.create(ApplicationIn(name="Signed deliveries", uid=uid))
    assert app.uid == uid
    # get_or_create (POST ?get_if_exists=true) finds the existing application, every time.
    for _ in range(2):
        same = svix.application.get_or_create(ApplicationIn(name="Signed deliveries", uid=uid))
        assert same.id == app.id
    assert svix.application.get(uid).id == app.id  # uid works wherever an id does

    event_type = unique("order.placed").replace("-", "_")
    created_type = svix.event_type.create(
        EventTypeIn(name=event_type, description="An order was placed")
    )
    assert created_type.name == event_type
    assert svix.event_type.get(event_type).description == "An order was placed"

    path = f"/{uid}/signed"
    endpoint = new_endpoint(svix, app.id, receiver.url(path), [event_type])
    assert endpoint.url == receiver.url(path)
    assert endpoint.event_types == [event_type]
    secret = svix.endpoint.get_secret(app.id, endpoint.id).key
    assert secret.startswith("whsec_")

    payloads = [{"order": i, "note": "naïve ☃ \"quoted\""} for i in range(3)]
    sent = [
        svix.message.create(app.id, MessageIn(event_type=event_type, payload=p)) for p in payloads
    ]
    assert len({m.id for m in sent}) == 3
    assert all(m.event_type == event_type for m in sent)

    deliveries = receiver.wait_for_count(path, 3)
    by_id: Dict[str, Received] = {d.headers["webhook-id"]: d for d in deliveries}
    assert sorted(by_id) == sorted(m.id for m in sent), "webhook-id must be the message id"
    assert len(deliveries) == 3, f"unexpected extra deliveries: {ids_of(deliveries)}"

    for message, payload in zip(sent, payloads):
        delivery = by_id[message.id]
        assert delivery.headers["content-type"].startswith("application/json")
        # Standard Webhooks verification returns the parsed body.
        assert StandardWebhook(secret).verify(delivery.body, delivery.headers) == payload
        assert json.loads(delivery.body) == payload
        # The Svix verifier accepts the webhook-* headers and the svix-* ones alone.
        SvixWebhook(secret).verify(delivery.body, delivery.headers)
        svix_only = {k: v for k, v in delivery.headers.items() if not k.startswith("webhook-")}
        assert svix_only["svix-id"] == message.id
        SvixWebhook(secret).verify(delivery.body, svix_only)

    # A tampered body must not verify (guards against a verifier that accepts anything).
    delivery = by_id[sent[0].id]
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(secret).verify(delivery.body + b" ", delivery.headers)


# --------------------------------------------------------------------------------------------
# b. Attempts, destinations and stats
# --------------------------------------------------------------------------------------------


def test_attempts_destinations_and_stats(svix: Svix, receiver: Receiver):
    app = new_app(svix, "Attempts")
    ok_path, fail_path = f"/{app.id}/ok", f"/{app.id}/fail"
    receiver.status_by_path[fail_path] = 500
    ok = new_endpoint(svix, app.id, receiver.url(ok_path))
    failing = new_endpoint(svix, app.id, receiver.url(fail_path))

    message = svix.message.create(
        app.id, MessageIn(event_type="invoice.paid", payload={"amount": 42})
    )
    receiver.wait_for_count(ok_path, 1)
    receiver.wait_for_count(fail_path, 1)

    # The successful endpoint: exactly one attempt, SUCCESS with the receiver's answer.
    [attempt] = wait_for_attempts(svix, app.id, message.id, 1, endpoint_id=ok.id)
    assert attempt.status == MessageStatus.SUCCESS
    assert attempt.status_text == MessageStatusText.SUCCESS
    assert attempt.response_status_code == 200
    assert attempt.response == "ok"
    assert attempt.msg_id == message.id
    assert attempt.endpoint_id == ok.id
    assert attempt.url == receiver.url(ok_path)
    assert attempt.trigger_type == MessageAttemptTriggerType.SCHEDULED

    # The failing endpoint: its first (oldest, listed last) attempt failed with 500.
    failed = wait_for_attempts(svix, app.id, message.id, 1, endpoint_id=failing.id)
    assert failed[-1].status == MessageStatus.FAIL
    assert failed[-1].response_status_code == 500
    assert all(a.endpoint_id == failing.id for a in failed)

    # By endpoint: the successful endpoint lists exactly that attempt.
    by_endpoint = svix.message_attempt.list_by_endpoint(app.id, ok.id).data
    assert [a.id for a in by_endpoint] == [attempt.id]
    none_failed = svix.message_attempt.list_by_endpoint(
        app.id, ok.id, MessageAttemptListByEndpointOptions(status=MessageStatus.FAIL)
    ).data
    assert none_failed == []

    # Destinations: both endpoints, the good one delivered, the failing one not.
    destinations = {
        d.id: d for d in svix.message_attempt.list_attempted_destinations(app.id, message.id).data
    }
    assert set(destinations) == {ok.id, failing.id}
    assert destinations[ok.id].status == MessageStatus.SUCCESS
    assert destinations[ok.id].status_text == MessageStatusText.SUCCESS
    assert destinations[ok.id].url == receiver.url(ok_path)
    assert destinations[failing.id].status != MessageStatus.SUCCESS

    stats = svix.endpoint.get_stats(app.id, ok.id)
    assert (stats.success, stats.fail, stats.pending, stats.sending) == (1, 0, 0, 0)

    # Stop the failing endpoint's retries from outliving the test.
    svix.endpoint.delete(app.id, failing.id)


# --------------------------------------------------------------------------------------------
# c. Resend
# --------------------------------------------------------------------------------------------


def test_resend_delivers_again_with_the_same_webhook_id(svix: Svix, receiver: Receiver):
    app = new_app(svix, "Resend")
    path = f"/{app.id}/resend"
    endpoint = new_endpoint(svix, app.id, receiver.url(path))
    secret = svix.endpoint.get_secret(app.id, endpoint.id).key
    message = svix.message.create(app.id, MessageIn(event_type="user.created", payload={"n": 1}))

    receiver.wait_for_count(path, 1)
    wait_for_attempts(svix, app.id, message.id, 1)

    svix.message_attempt.resend(app.id, message.id, endpoint.id)

    deliveries = receiver.wait_for_count(path, 2)
    assert ids_of(deliveries) == [message.id, message.id]
    for delivery in deliveries:
        assert_verifies(secret, delivery)

    attempts = wait_for_attempts(svix, app.id, message.id, 2)
    assert len(attempts) == 2, attempts
    assert all(a.status == MessageStatus.SUCCESS for a in attempts)
    assert sorted(a.trigger_type for a in attempts) == [
        MessageAttemptTriggerType.SCHEDULED,
        MessageAttemptTriggerType.MANUAL,
    ]


# --------------------------------------------------------------------------------------------
# d. Idempotency
# --------------------------------------------------------------------------------------------


def test_idempotency_key_creates_one_message_and_one_delivery(svix: Svix, receiver: Receiver):
    app = new_app(svix, "Idempotency")
    path = f"/{app.id}/idem"
    new_endpoint(svix, app.id, receiver.url(path))
    key = unique("idem")
    message_in = MessageIn(event_type="user.created", payload={"user": "ada"})

    first = svix.message.create(app.id, message_in, MessageCreateOptions(idempotency_key=key))
    second = svix.message.create(app.id, message_in, MessageCreateOptions(idempotency_key=key))
    assert second.id == first.id

    # The store holds one message (it is durable before create answers: no waiting needed).
    assert [m.id for m in svix.message.list(app.id).data] == [first.id]
    assert svix.message.get(app.id, first.id).id == first.id

    [delivery] = receiver.wait_for_count(path, 1)
    assert delivery.headers["webhook-id"] == first.id

    # Bounded negative check: no delivery of another message arrives within 1.5 s.
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        others = [i for i in ids_of(receiver.received(path)) if i != first.id]
        assert not others, f"a second message was delivered: {others}"
        time.sleep(0.05)


# --------------------------------------------------------------------------------------------
# e. Event type filtering
# --------------------------------------------------------------------------------------------


def test_event_type_filtering(svix: Svix, receiver: Receiver):
    app = new_app(svix, "Filtering")
    users_path, all_path = f"/{app.id}/users", f"/{app.id}/all"
    users = new_endpoint(svix, app.id, receiver.url(users_path), ["user.*"])
    everything = new_endpoint(svix, app.id, receiver.url(all_path))

    invoice = svix.message.create(app.id, MessageIn(event_type="invoice.paid", payload={"i": 1}))
    created = svix.message.create(app.id, MessageIn(event_type="user.created", payload={"u": 1}))

    # Fan-out is decided when the message is accepted, so destinations are final right away.
    invoice_destinations = svix.message_attempt.list_attempted_destinations(app.id, invoice.id)
    assert [d.id for d in invoice_destinations.data] == [everything.id]
    user_destinations = svix.message_attempt.list_attempted_destinations(app.id, created.id)
    assert sorted(d.id for d in user_destinations.data) == sorted([users.id, everything.id])

    # The catch-all endpoint gets both; the user.* endpoint only user.created.
    all_received = receiver.wait_for_count(all_path, 2)
    assert sorted(ids_of(all_received)) == sorted([invoice.id, created.id])
    users_received = receiver.wait_for_count(users_path, 1)
    assert ids_of(users_received) == [created.id]

    def listed(event_types: List[str]) -> List[str]:
        options = MessageListOptions(event_types=event_types)
        return sorted(m.id for m in svix.message.list(app.id, options).data)

    assert listed(["user.created"]) == [created.id]
    assert listed(["invoice.paid"]) == [invoice.id]
    assert listed(["user.created", "invoice.paid"]) == sorted([created.id, invoice.id])
    assert listed(["order.shipped"]) == []


# --------------------------------------------------------------------------------------------
# f. Errors as the SDK reports them
# --------------------------------------------------------------------------------------------


def test_errors_surface_as_sdk_exceptions(svix: Svix, hookwire):
    with pytest.raises(HttpError) as missing:
        svix.application.get(unique("missing"))
    assert missing.value.status_code == 404
    assert missing.value.code == "not_found"
    assert isinstance(missing.value.detail, str) and missing.value.detail

    app = new_app(svix, "Errors")
    with pytest.raises(HTTPValidationError) as invalid:
        svix.endpoint.create(app.id, EndpointIn(url="ftp://x"))
    assert invalid.value.status_code == 422
    assert invalid.value.detail, "a 422 must list what is invalid"
    item = invalid.value.detail[0]
    assert item.loc == ["body", "url"]
    assert item.msg and item.type

    intruder = Svix("hw_not-a-real-token", SvixOptions(server_url=hookwire.url, retry_schedule=[]))
    with pytest.raises(HttpError) as unauthorized:
        intruder.application.get(app.id)
    assert unauthorized.value.status_code == 401
    assert unauthorized.value.code == "authentication_failed"


# --------------------------------------------------------------------------------------------
# g. Secret rotation
# --------------------------------------------------------------------------------------------


def test_rotated_secret_signs_with_old_and_new_secret(svix: Svix, receiver: Receiver):
    app = new_app(svix, "Rotation")
    path = f"/{app.id}/rotation"
    endpoint = new_endpoint(svix, app.id, receiver.url(path))
    old_secret = svix.endpoint.get_secret(app.id, endpoint.id).key

    svix.endpoint.rotate_secret(app.id, endpoint.id, EndpointSecretRotateIn())
    new_secret = svix.endpoint.get_secret(app.id, endpoint.id).key
    assert new_secret.startswith("whsec_") and new_secret != old_secret

    message = svix.message.create(app.id, MessageIn(event_type="user.updated", payload={"v": 2}))
    [delivery] = receiver.wait_for_count(path, 1)
    assert delivery.headers["webhook-id"] == message.id

    signatures = delivery.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures), signatures
    assert delivery.headers["svix-signature"] == delivery.headers["webhook-signature"]

    # Both secrets verify the delivery...
    assert_verifies(old_secret, delivery)
    assert_verifies(new_secret, delivery)

    # ...and each signature belongs to a different one of them.
    def signed_by(secret: str, signature: str) -> bool:
        try:
            StandardWebhook(secret).verify(
                delivery.body, {**delivery.headers, "webhook-signature": signature}
            )
            return True
        except WebhookVerificationError:
            return False

    owners = [
        {name for name, s in (("old", old_secret), ("new", new_secret)) if signed_by(s, sig)}
        for sig in signatures
    ]
    assert sorted(map(sorted, owners)) == [["new"], ["old"]], owners
