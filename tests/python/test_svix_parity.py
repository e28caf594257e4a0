"""Svix parity: every operation of the open-source Svix server, plus the Svix Cloud features
Hookwire implements, driven through the official Svix Python SDK.

test_svix_sdk.py checks the core flow (signed deliveries, resend, idempotency, event-type
filtering, errors, secret rotation); this module walks the rest of the API surface, one test per
area. Operations (open-source operationId → SDK call → test):

    v1.application.list/create/get/update/delete, patch_application
        application.list/create/get_or_create/get/upsert/delete/patch ... test_applications
    v1.endpoint.list/create/get/update/delete, patch_endpoint, get-headers/update-headers/
    patch-headers, get-secret/rotate-secret
        endpoint.list/create/get/upsert/delete/patch/get_headers/set_headers/patch_headers/
        get_secret/rotate_secret ......................................... test_endpoints
    v1.endpoint.get-stats (since/until) ..... endpoint.get_stats ..... test_endpoint_stats_window
    v1.endpoint.send-example ................ endpoint.send_example ..... test_send_example
    v1.endpoint.recover ..................... endpoint.recover .......... test_recover
    v1.event-type.list/create/get/update/delete(expunge), patch_event_type
        event_type.list/create/get/upsert/delete/patch .................. test_event_types
    v1.message.create/list/get (by id or eventId)
        message.create/list/get ...................... test_messages, test_raw_payload,
                                                       test_deliver_at
    v1.message.expunge-content, v1.message-attempt.expunge-content ..... test_expunge_content
    v1.message-attempt.list-by-endpoint/list-by-msg/list-attempted-messages/
    list-attempted-destinations/get ............................ test_attempt_lists_filter
    v1.message-attempt.resend ........... message_attempt.resend (test_svix_sdk.py, and below)
    v1.authentication.app-portal-access, logout_api_v1_auth_logout__post
        authentication.app_portal_access/logout/expire_all .. test_app_tokens_logout_and_expire_all
    v1.health.get ........................... health.get ................ test_health
    not in the OpenAPI document (older SDKs): auth/dashboard-access, msg/{id}/attempt,
    msg/{id}/endpoint/{id}/attempt, health/ping, HEAD health ..... test_routes_only_older_sdks_call
    Svix Cloud: endpoint.replay_missing/bulk_replay + background_task.get/list
        ..................................... test_replay_missing, test_bulk_replay, test_recover

The last section holds one small test per divergence from Svix this suite found (an endpoint
upsert that did not create, the endpoint list's default order, re-creating an archived event
type, an expunged payload's shape, resending an expunged message), kept as regressions.

Every delivery a test causes is checked with `svix.webhooks.Webhook(secret).verify` using the
endpoint's secret from the API. Each test uses its own application(s), receiver paths and event
type names; waits poll with a deadline (conftest.wait_until); the only fixed waits are short,
bounded checks that nothing more arrives.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, Iterable, List, Optional

import pytest
from svix.api import (
    ApplicationIn,
    ApplicationListOptions,
    ApplicationOut,
    ApplicationPatch,
    ApplicationTokenExpireIn,
    AppPortalAccessIn,
    AppPortalAccessOut,
    BackgroundTaskListOptions,
    BackgroundTaskOut,
    BackgroundTaskStatus,
    BackgroundTaskType,
    BulkReplayIn,
    EndpointGetStatsOptions,
    EndpointHeadersIn,
    EndpointHeadersPatchIn,
    EndpointIn,
    EndpointListOptions,
    EndpointOut,
    EndpointPatch,
    EndpointSecretRotateIn,
    EndpointUpsertIn,
    EventExampleIn,
    EventTypeDeleteOptions,
    EventTypeIn,
    EventTypeListOptions,
    EventTypePatch,
    EventTypeUpsertIn,
    ListResponseMessageAttemptOut,
    MessageAttemptListAttemptedDestinationsOptions,
    MessageAttemptListAttemptedMessagesOptions,
    MessageAttemptListByEndpointOptions,
    MessageAttemptListByMsgOptions,
    MessageCreateOptions,
    MessageGetOptions,
    MessageIn,
    MessageListOptions,
    MessageStatus,
    Ordering,
    RecoverIn,
    ReplayIn,
    StatusCodeClass,
    Svix,
    SvixOptions,
)
from svix.api.message import message_in_raw
from svix.exceptions import HttpError
from svix.webhooks import Webhook, WebhookVerificationError

from conftest import Received, Receiver, wait_until

# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def unique_event_type(prefix: str) -> str:
    """Event types are global to the server: every test names its own."""
    return f"{prefix}.{uuid.uuid4().hex[:10]}"


def now() -> datetime:
    return datetime.now(timezone.utc)


def wait_past(moment: datetime, margin_ms: int = 5) -> None:
    """Polls the clock until it is `margin_ms` past `moment` (server and test share the clock),
    so the next thing created gets a strictly later timestamp."""
    wait_until(lambda: now() > moment + timedelta(milliseconds=margin_ms), what="the clock")


@pytest.fixture(scope="module")
def svix(hookwire) -> Svix:
    # No client-side retries: a server error must surface, not be papered over.
    return Svix(hookwire.token, SvixOptions(server_url=hookwire.url, retry_schedule=[]))


def client(hookwire, token: str) -> Svix:
    return Svix(token, SvixOptions(server_url=hookwire.url, retry_schedule=[]))


def new_app(svix: Svix, name: str) -> ApplicationOut:
    return svix.application.create(ApplicationIn(name=name, uid=unique("app")))


def new_endpoint(svix: Svix, app_id: str, url: str, **fields) -> EndpointOut:
    return svix.endpoint.create(app_id, EndpointIn(url=url, **fields))


def secret_of(svix: Svix, app_id: str, endpoint_id: str) -> str:
    return svix.endpoint.get_secret(app_id, endpoint_id).key


def verify_all(secret: str, deliveries: Iterable[Received]) -> None:
    """Every delivery verifies with the endpoint's secret, and a tampered copy does not."""
    deliveries = list(deliveries)
    assert deliveries, "nothing to verify"
    for delivery in deliveries:
        Webhook(secret).verify(delivery.body, delivery.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(delivery.body + b"x", delivery.headers)


def webhook_ids(deliveries: Iterable[Received]) -> List[str]:
    return [d.headers["webhook-id"] for d in deliveries]


def assert_nothing_more(receiver: Receiver, path: str, count: int, seconds: float = 1.0) -> None:
    """Bounded negative check: `path` has exactly `count` deliveries for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = receiver.received(path)
        assert len(got) == count, f"expected {count} deliveries to {path}, got {webhook_ids(got)}"
        time.sleep(0.05)


def settled(receiver: Receiver, path: str, quiet: float = 0.3) -> List[Received]:
    """Waits until nothing new has reached `path` for `quiet` seconds; returns what did."""
    seen = {"count": -1, "at": time.monotonic()}

    def quiet_now():
        count = len(receiver.received(path))
        if count != seen["count"]:
            seen.update(count=count, at=time.monotonic())
            return None
        return receiver.received(path) if time.monotonic() - seen["at"] >= quiet else None

    return wait_until(quiet_now, what=f"deliveries to {path} to settle")


def all_pages(fetch: Callable[[Optional[str]], Any]) -> list:
    """Calls `fetch(iterator)` (any SDK list call) and follows `iterator` until `done`; returns
    every item."""
    items, iterator = [], None
    for _ in range(100):
        page = fetch(iterator)
        items.extend(page.data)
        if page.done:
            return items
        iterator = page.iterator
    raise AssertionError("more than 100 pages")


def ids(items: Iterable) -> List[str]:
    return [item.id for item in items]


def wait_for_attempted(
    svix: Svix, app_id: str, endpoint_id: str, msg_id: str, status: MessageStatus
) -> None:
    """Waits until the endpoint's log shows `msg_id` with `status` (its delivery's state)."""

    def reached():
        options = MessageAttemptListAttemptedMessagesOptions(status=status)
        listed = svix.message_attempt.list_attempted_messages(app_id, endpoint_id, options)
        return msg_id in ids(listed.data)

    wait_until(reached, what=f"{msg_id} to be {status.name} at {endpoint_id}")


def wait_for_task(svix: Svix, task_id: str) -> BackgroundTaskOut:
    """Polls background_task.get until the task is no longer running; it must have finished."""

    def done():
        task = svix.background_task.get(task_id)
        return task if task.status != BackgroundTaskStatus.RUNNING else None

    task = wait_until(done, what=f"background task {task_id}")
    assert task.status == BackgroundTaskStatus.FINISHED, task
    assert task.id == task_id
    return task


def assert_task_started(out, kind: BackgroundTaskType) -> None:
    """The 202 answer of recover / replay-missing / bulk-replay: a qtask_ background task."""
    assert out.id.startswith("qtask_"), out
    assert out.task == kind
    assert out.status in (BackgroundTaskStatus.RUNNING, BackgroundTaskStatus.FINISHED)
    assert out.updated_at is not None


def example_schema(*examples: dict) -> dict:
    return {"1": {"type": "object", "examples": list(examples)}}


# --------------------------------------------------------------------------------------------
# Applications
# --------------------------------------------------------------------------------------------


def test_applications(svix: Svix):
    uids = [unique("app") for _ in range(3)]
    created = [
        svix.application.create(ApplicationIn(name=f"App {i}", uid=uid, metadata={"n": str(i)}))
        for i, uid in enumerate(uids)
    ]
    first, second, third = created
    assert [a.uid for a in created] == uids
    assert first.metadata == {"n": "0"}
    assert svix.application.get(first.id) == svix.application.get(first.uid) == first

    # The uid is unique: creating it again is a conflict; get_or_create returns the existing one.
    with pytest.raises(HttpError) as conflict:
        svix.application.create(ApplicationIn(name="Again", uid=first.uid))
    assert conflict.value.status_code == 409
    fresh_uid = unique("app")
    fresh = svix.application.get_or_create(ApplicationIn(name="Fresh", uid=fresh_uid))
    assert (fresh.uid, fresh.name) == (fresh_uid, "Fresh")

    # Listing: descending pages are newest first, iterators page forward and back.
    descending = ApplicationListOptions(order=Ordering.DESCENDING, limit=2)
    page1 = svix.application.list(descending)
    assert ids(page1.data) == [fresh.id, third.id] and not page1.done
    page2 = svix.application.list(
        ApplicationListOptions(order=Ordering.DESCENDING, limit=2, iterator=page1.iterator)
    )
    assert ids(page2.data) == [second.id, first.id]
    back = svix.application.list(
        ApplicationListOptions(order=Ordering.DESCENDING, limit=2, iterator=page2.prev_iterator)
    )
    assert ids(back.data) == ids(page1.data)
    ascending = all_pages(
        lambda it: svix.application.list(
            ApplicationListOptions(order=Ordering.ASCENDING, limit=250, iterator=it)
        )
    )
    mine = [a.id for a in ascending if a.id in {first.id, second.id, third.id, fresh.id}]
    assert mine == [first.id, second.id, third.id, fresh.id]

    # Upsert (PUT) replaces an existing application...
    replaced = svix.application.upsert(
        first.id, ApplicationIn(name="Replaced", uid=first.uid, metadata={"new": "yes"})
    )
    assert (replaced.id, replaced.name, replaced.metadata) == (first.id, "Replaced", {"new": "yes"})
    assert replaced.updated_at >= first.updated_at
    # ...and creates a missing one.
    upserted_uid = unique("app")
    upserted = svix.application.upsert(
        upserted_uid, ApplicationIn(name="Upserted", uid=upserted_uid)
    )
    assert upserted.uid == upserted_uid
    assert svix.application.get(upserted_uid).id == upserted.id

    # Patch changes only what it names.
    patched = svix.application.patch(second.id, ApplicationPatch(name="Patched"))
    assert (patched.name, patched.uid, patched.metadata) == ("Patched", second.uid, {"n": "1"})
    patched = svix.application.patch(second.id, ApplicationPatch(metadata={"k": "v"}))
    assert (patched.name, patched.metadata) == ("Patched", {"k": "v"})

    for app in (first, second, third, fresh, upserted):
        svix.application.delete(app.id)
        with pytest.raises(HttpError) as gone:
            svix.application.get(app.id)
        assert gone.value.status_code == 404


# --------------------------------------------------------------------------------------------
# Endpoints: CRUD, headers, secret
# --------------------------------------------------------------------------------------------


def test_endpoints(svix: Svix, receiver: Receiver):
    app = new_app(svix, "Endpoints")
    path = f"/{app.id}/endpoint"
    event_type = unique_event_type("endpoint.test")
    svix.event_type.create(EventTypeIn(name=event_type, description="Endpoint test"))
    endpoint = new_endpoint(
        svix,
        app.id,
        receiver.url(path),
        uid=unique("ep"),
        description="Orders",
        channels=["eu"],
        metadata={"team": "core"},
        headers={"X-Team": "core"},
    )
    assert (endpoint.description, endpoint.channels, endpoint.metadata) == (
        "Orders",
        ["eu"],
        {"team": "core"},
    )
    assert endpoint.disabled is False
    assert svix.endpoint.get(app.id, endpoint.uid) == svix.endpoint.get(app.id, endpoint.id)

    # Listing: order and paging.
    others = [new_endpoint(svix, app.id, receiver.url(f"{path}/{i}")) for i in range(2)]
    everything = [endpoint.id] + ids(others)
    ascending = svix.endpoint.list(app.id, EndpointListOptions(order=Ordering.ASCENDING))
    assert ids(ascending.data) == everything and ascending.done
    descending = svix.endpoint.list(app.id, EndpointListOptions(order=Ordering.DESCENDING))
    assert ids(descending.data) == everything[::-1]
    page1 = svix.endpoint.list(app.id, EndpointListOptions(order=Ordering.ASCENDING, limit=2))
    assert ids(page1.data) == everything[:2] and not page1.done
    page2 = svix.endpoint.list(
        app.id, EndpointListOptions(order=Ordering.ASCENDING, limit=2, iterator=page1.iterator)
    )
    assert ids(page2.data) == everything[2:] and page2.done
    for other in others:
        svix.endpoint.delete(app.id, other.id)
        with pytest.raises(HttpError) as gone:
            svix.endpoint.get(app.id, other.id)
        assert gone.value.status_code == 404
    assert ids(svix.endpoint.list(app.id).data) == [endpoint.id]

    # Upsert (PUT) replaces the endpoint; patch changes only what it names, null clears.
    upserted = svix.endpoint.upsert(
        app.id,
        endpoint.id,
        EndpointUpsertIn(
            url=receiver.url(path), uid=endpoint.uid, description="Replaced", metadata={"v": "2"}
        ),
    )
    assert (upserted.id, upserted.description, upserted.metadata) == (
        endpoint.id,
        "Replaced",
        {"v": "2"},
    )
    assert upserted.channels is None
    patched = svix.endpoint.patch(
        app.id, endpoint.id, EndpointPatch(event_types=[event_type], disabled=True)
    )
    assert (patched.event_types, patched.disabled, patched.description) == (
        [event_type],
        True,
        "Replaced",
    )
    patched = svix.endpoint.patch(
        app.id, endpoint.id, EndpointPatch(event_types=None, disabled=False)
    )
    assert (patched.event_types, patched.disabled) == (None, False)

    # Headers: created with X-Team; PUT replaces them (Authorization is sensitive: named, not
    # shown); PATCH adds and deletes.
    assert svix.endpoint.get_headers(app.id, endpoint.id).headers == {"X-Team": "core"}
    svix.endpoint.set_headers(
        app.id,
        endpoint.id,
        EndpointHeadersIn(headers={"X-Trace": "1", "Authorization": "Bearer hunter2"}),
    )
    headers = svix.endpoint.get_headers(app.id, endpoint.id)
    assert (headers.headers, headers.sensitive) == ({"X-Trace": "1"}, ["Authorization"])
    svix.endpoint.patch_headers(
        app.id,
        endpoint.id,
        EndpointHeadersPatchIn(headers={"X-Extra": "2"}, delete_headers=["X-Trace"]),
    )
    headers = svix.endpoint.get_headers(app.id, endpoint.id)
    assert (headers.headers, headers.sensitive) == ({"X-Extra": "2"}, ["Authorization"])

    # Secret: rotate to a key of our choosing; deliveries then verify with it.
    old_secret = secret_of(svix, app.id, endpoint.id)
    chosen = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    rotated = svix.endpoint.rotate_secret(app.id, endpoint.id, EndpointSecretRotateIn(key=chosen))
    assert rotated.key == chosen
    assert secret_of(svix, app.id, endpoint.id) == chosen != old_secret

    message = svix.message.create(app.id, MessageIn(event_type=event_type, payload={"ok": True}))
    [delivery] = receiver.wait_for_count(path, 1)
    assert delivery.headers["webhook-id"] == message.id
    assert delivery.headers["x-extra"] == "2"
    assert delivery.headers["authorization"] == "Bearer hunter2"
    assert "x-trace" not in delivery.headers and "x-team" not in delivery.headers
    verify_all(chosen, [delivery])

    svix.endpoint.delete(app.id, endpoint.id)
    with pytest.raises(HttpError) as gone:
        svix.endpoint.get(app.id, endpoint.id)
    assert gone.value.status_code == 404


def test_endpoint_stats_window(svix: Svix, receiver: Receiver):
    app = new_app(svix, "Stats")
    path = f"/{app.id}/stats"
    endpoint = new_endpoint(svix, app.id, receiver.url(path))
    secret = secret_of(svix, app.id, endpoint.id)

    first = svix.message.create(app.id, MessageIn(event_type="stats.tick", payload={"n": 1}))
    wait_for_attempted(svix, app.id, endpoint.id, first.id, MessageStatus.SUCCESS)
    wait_past(now())
    middle = now()
    wait_past(middle)
    second = svix.message.create(app.id, MessageIn(event_type="stats.tick", payload={"n": 2}))
    wait_for_attempted(svix, app.id, endpoint.id, second.id, MessageStatus.SUCCESS)
    verify_all(secret, receiver.wait_for_count(path, 2))

    def stats(since: Optional[datetime] = None, until: Optional[datetime] = None):
        got = svix.endpoint.get_stats(
            app.id, endpoint.id, EndpointGetStatsOptions(since=since, until=until)
        )
        return (got.success, got.pending, got.sending, got.fail, got.canceled)

    hour = timedelta(hours=1)
    assert stats() == (2, 0, 0, 0, 0)
    assert stats(since=first.timestamp - hour, until=now() + hour) == (2, 0, 0, 0, 0)
    assert stats(since=middle) == (1, 0, 0, 0, 0)
    assert stats(until=middle) == (1, 0, 0, 0, 0)
    assert stats(until=first.timestamp - hour) == (0, 0, 0, 0, 0)
    assert stats(since=now() + hour) == (0, 0, 0, 0, 0)


def test_send_example(svix: Svix, receiver: Receiver):
    app = new_app(svix, "Send example")
    target_path, bystander_path = f"/{app.id}/target", f"/{app.id}/bystander"
    target = new_endpoint(svix, app.id, receiver.url(target_path))
    new_endpoint(svix, app.id, receiver.url(bystander_path))
    event_type = unique_event_type("example.sent")
    svix.event_type.create(
        EventTypeIn(
            name=event_type,
            description="Has examples",
            schemas=example_schema({"first": 1}, {"second": 2}),
        )
    )

    sent = svix.endpoint.send_example(app.id, target.id, EventExampleIn(event_type=event_type))
    assert (sent.event_type, sent.payload) == (event_type, {"first": 1})
    second = svix.endpoint.send_example(
        app.id, target.id, EventExampleIn(event_type=event_type, example_index=1)
    )
    assert second.payload == {"second": 2}

    # The example goes to that endpoint only, and is a real, signed message.
    deliveries = receiver.wait_for_count(target_path, 2)
    assert sorted(webhook_ids(deliveries)) == sorted([sent.id, second.id])
    bodies = {d.headers["webhook-id"]: json.loads(d.body) for d in deliveries}
    assert bodies == {sent.id: {"first": 1}, second.id: {"second": 2}}
    verify_all(secret_of(svix, app.id, target.id), deliveries)
    assert svix.message.get(app.id, sent.id).event_type == event_type
    assert_nothing_more(receiver, bystander_path, 0, seconds=0.5)


# --------------------------------------------------------------------------------------------
# Event types
# --------------------------------------------------------------------------------------------


def test_event_types(svix: Svix, hookwire):
    name = unique_event_type("invoice.paid")
    schemas = example_schema({"invoice": "inv_1"})
    created = svix.event_type.create(
        EventTypeIn(
            name=name,
            description="An invoice was paid",
            schemas=schemas,
            group_name="billing",
            feature_flags=["beta-billing"],
        )
    )
    assert (created.name, created.archived, created.deprecated) == (name, False, False)
    assert (created.group_name, created.feature_flags) == ("billing", ["beta-billing"])
    assert created.schemas == schemas
    assert svix.event_type.get(name) == created
    with pytest.raises(HttpError) as exists:
        svix.event_type.create(EventTypeIn(name=name, description="again"))
    assert exists.value.status_code == 409

    def listed(**options) -> Dict[str, Any]:
        items = all_pages(
            lambda it: svix.event_type.list(EventTypeListOptions(limit=250, iterator=it, **options))
        )
        return {e.name: e for e in items}

    assert listed()[name].schemas is None, "schemas are only listed with with_content"
    assert listed(with_content=True)[name].schemas == schemas

    # Feature flags hide an event type from app tokens that do not carry the flag.
    app = new_app(svix, "Feature flags")

    def portal(**fields) -> Svix:
        access = svix.authentication.app_portal_access(app.id, AppPortalAccessIn(**fields))
        return client(hookwire, access.token)

    plain, flagged = portal(), portal(feature_flags=["beta-billing"])
    with pytest.raises(HttpError) as hidden:
        plain.event_type.get(name)
    assert hidden.value.status_code == 404
    assert name not in {e.name for e in plain.event_type.list(EventTypeListOptions(limit=250)).data}
    assert flagged.event_type.get(name).name == name

    # Upsert takes the name from the path: it replaces an existing type...
    updated = svix.event_type.upsert(
        name, EventTypeUpsertIn(description="Replaced", deprecated=True)
    )
    assert (updated.name, updated.description, updated.deprecated) == (name, "Replaced", True)
    assert updated.created_at == created.created_at
    # ...and creates an unknown one.
    other = unique_event_type("invoice.voided")
    upserted = svix.event_type.upsert(other, EventTypeUpsertIn(description="New via PUT"))
    assert (upserted.name, upserted.description, upserted.archived) == (other, "New via PUT", False)
    assert svix.event_type.get(other).description == "New via PUT"

    patched = svix.event_type.patch(name, EventTypePatch(description="Patched", deprecated=False))
    assert (patched.description, patched.deprecated) == ("Patched", False)
    patched = svix.event_type.patch(name, EventTypePatch(schemas=schemas))
    assert (patched.description, patched.schemas) == ("Patched", schemas)

    # Delete archives: still readable, listed only with include_archived.
    svix.event_type.delete(name)
    assert svix.event_type.get(name).archived is True
    assert name not in listed()
    assert listed(include_archived=True)[name].archived is True

    # Delete with expunge really deletes, archived or not.
    for gone in (name, other):
        svix.event_type.delete(gone, EventTypeDeleteOptions(expunge=True))
        with pytest.raises(HttpError) as missing:
            svix.event_type.get(gone)
        assert missing.value.status_code == 404
        assert gone not in listed(include_archived=True)


# --------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------


def test_messages(svix: Svix, receiver: Receiver):
    app = new_app(svix, "Messages")
    path = f"/{app.id}/messages"
    endpoint = new_endpoint(svix, app.id, receiver.url(path))
    secret = secret_of(svix, app.id, endpoint.id)

    placed = svix.message.create(
        app.id,
        MessageIn(
            event_type="order.placed",
            event_id=unique("evt"),
            payload={"order": 1, "text": "naïve ☃"},
            channels=["eu", "vip"],
            tags=["priority", "team/a#1"],
        ),
        MessageCreateOptions(with_content=True),
    )
    assert placed.payload == {"order": 1, "text": "naïve ☃"}
    assert (placed.channels, placed.tags) == (["eu", "vip"], ["priority", "team/a#1"])
    wait_past(placed.timestamp)
    shipped = svix.message.create(
        app.id,
        MessageIn(event_type="order.shipped", payload={"order": 1}, channels=["us"], tags=["bulk"]),
    )
    assert shipped.payload == {}, "with_content=false (the SDK's default) leaves the payload out"
    assert shipped.tags == ["bulk"]

    # Get by id and by eventId; with_content decides whether the payload is shown.
    for key in (placed.id, placed.event_id):
        got = svix.message.get(app.id, key, MessageGetOptions(with_content=True))
        assert (got.id, got.event_id, got.payload, got.tags) == (
            placed.id,
            placed.event_id,
            placed.payload,
            placed.tags,
        )
    assert svix.message.get(app.id, placed.id).payload == {}

    # An eventId is unique within the application.
    with pytest.raises(HttpError) as duplicate:
        svix.message.create(
            app.id, MessageIn(event_type="order.placed", event_id=placed.event_id, payload={})
        )
    assert duplicate.value.status_code == 409

    def listed(**options) -> List[str]:
        return ids(svix.message.list(app.id, MessageListOptions(**options)).data)

    assert listed() == [shipped.id, placed.id]
    assert listed(tag="priority") == [placed.id]
    assert listed(tag="team/a#1") == [placed.id]
    assert listed(tag="bulk") == [shipped.id]
    assert listed(tag="unknown") == []
    assert listed(channel="vip") == [placed.id]
    assert listed(channel="us") == [shipped.id]
    assert listed(event_types=["order.shipped"]) == [shipped.id]
    assert listed(after=placed.timestamp + timedelta(milliseconds=1)) == [shipped.id]
    assert listed(before=shipped.timestamp) == [placed.id]
    assert listed(limit=1) == [shipped.id]
    with_content = svix.message.list(app.id, MessageListOptions(with_content=True, tag="priority"))
    assert with_content.data[0].payload == placed.payload

    deliveries = receiver.wait_for_count(path, 2)
    assert sorted(webhook_ids(deliveries)) == sorted([placed.id, shipped.id])
    verify_all(secret, deliveries)

    # `application` in MessageIn creates the application when its uid is unknown.
    auto_uid = unique("auto")
    auto = svix.message.create(
        auto_uid,
        MessageIn(
            event_type="order.placed",
            payload={},
            application=ApplicationIn(name="Auto", uid=auto_uid),
        ),
    )
    assert svix.application.get(auto_uid).name == "Auto"
    assert ids(svix.message.list(auto_uid).data) == [auto.id]


def test_raw_payload(svix: Svix, receiver: Receiver):
    app = new_app(svix, "Raw payloads")
    path = f"/{app.id}/raw"
    endpoint = new_endpoint(svix, app.id, receiver.url(path))
    secret = secret_of(svix, app.id, endpoint.id)

    text = "plain text, <not json> & naïve ☃\n"
    # JSON that a normal payload would have minified and re-escaped: sent exactly as given.
    unminified = '{ "b" : 1,\n  "a": "caf\\u00e9",  "n": 1.50 }'
    content_type = "text/plain; charset=utf-8"
    as_text = svix.message.create(app.id, message_in_raw("raw.text", text, content_type))
    as_json = svix.message.create(app.id, message_in_raw("raw.json", unminified))

    deliveries = {d.headers["webhook-id"]: d for d in receiver.wait_for_count(path, 2)}
    assert set(deliveries) == {as_text.id, as_json.id}
    assert deliveries[as_text.id].body == text.encode()
    assert deliveries[as_text.id].headers["content-type"] == content_type
    assert deliveries[as_json.id].body == unminified.encode()
    assert deliveries[as_json.id].headers["content-type"].startswith("application/json")
    # The signature covers exactly those bytes.
    verify_all(secret, deliveries.values())


def test_deliver_at(svix: Svix, receiver: Receiver):
    app = new_app(svix, "Deliver at")
    path = f"/{app.id}/later"
    endpoint = new_endpoint(svix, app.id, receiver.url(path))
    # Svix accepts from one minute to 24 hours ahead.
    at = (now() + timedelta(minutes=2)).replace(microsecond=0)

    message = svix.message.create(
        app.id, MessageIn(event_type="reminder.due", payload={"r": 1}, deliver_at=at)
    )
    assert message.deliver_at == at
    assert svix.message.get(app.id, message.id).deliver_at == at
    assert svix.message.list(app.id).data[0].deliver_at == at
    [logged] = svix.message_attempt.list_attempted_messages(app.id, endpoint.id).data
    assert (logged.id, logged.status, logged.deliver_at) == (message.id, MessageStatus.PENDING, at)

    # Not delivered before its time (then the endpoint goes, so it never is).
    assert_nothing_more(receiver, path, 0, seconds=1.0)
    svix.endpoint.delete(app.id, endpoint.id)


def test_expunge_content(svix: Svix, receiver: Receiver):
    app = new_app(svix, "Expunge")
    path = f"/{app.id}/expunge"
    endpoint = new_endpoint(svix, app.id, receiver.url(path))
    secret = secret_of(svix, app.id, endpoint.id)
    message = svix.message.create(
        app.id, MessageIn(event_type="user.updated", payload={"ssn": "123-45-6789"})
    )
    verify_all(secret, receiver.wait_for_count(path, 1))
    wait_for_attempted(svix, app.id, endpoint.id, message.id, MessageStatus.SUCCESS)
    [attempt] = svix.message_attempt.list_by_msg(
        app.id, message.id, MessageAttemptListByMsgOptions(with_content=True)
    ).data
    assert svix.message_attempt.get(app.id, message.id, attempt.id).response == "ok"

    # The attempt's response body goes; the attempt itself stays.
    svix.message_attempt.expunge_content(app.id, message.id, attempt.id)
    after = svix.message_attempt.get(app.id, message.id, attempt.id)
    assert after.response in ("", "EXPUNGED"), after.response
    assert (after.id, after.status, after.response_status_code) == (attempt.id, attempt.status, 200)

    # The message's payload goes; the message stays.
    svix.message.expunge_content(app.id, message.id)
    expunged = svix.message.get(app.id, message.id, MessageGetOptions(with_content=True))
    assert expunged.id == message.id
    assert "ssn" not in expunged.payload


# --------------------------------------------------------------------------------------------
# Attempts
# --------------------------------------------------------------------------------------------


def test_attempt_lists_filter(svix: Svix, receiver: Receiver):
    app = new_app(svix, "Attempt filters")
    ok_path, bad_path = f"/{app.id}/ok", f"/{app.id}/bad"
    receiver.status_by_path[bad_path] = 500
    ok = new_endpoint(svix, app.id, receiver.url(ok_path))
    bad = new_endpoint(svix, app.id, receiver.url(bad_path))

    created = svix.message.create(
        app.id,
        MessageIn(
            event_type="order.created",
            event_id=unique("evt"),
            payload={"o": 1},
            channels=["eu"],
            tags=["vip"],
        ),
    )
    deleted = svix.message.create(
        app.id,
        MessageIn(event_type="order.deleted", payload={"o": 2}, channels=["us"], tags=["bulk"]),
    )
    both = {created.id, deleted.id}
    for message in (created, deleted):
        wait_for_attempted(svix, app.id, ok.id, message.id, MessageStatus.SUCCESS)

    def failed_both() -> bool:
        attempts = svix.message_attempt.list_by_endpoint(app.id, bad.id).data
        return {a.msg_id for a in attempts} == both

    wait_until(failed_both, what="failed attempts of both messages")

    # --- list_by_endpoint
    def by_endpoint(endpoint_id: str, **options):
        return svix.message_attempt.list_by_endpoint(
            app.id, endpoint_id, MessageAttemptListByEndpointOptions(**options)
        ).data

    def msgs(attempts) -> set:
        return {a.msg_id for a in attempts}

    assert msgs(by_endpoint(ok.id)) == both
    assert msgs(by_endpoint(ok.id, event_types=["order.created"])) == {created.id}
    assert msgs(by_endpoint(ok.id, event_types=["order.created", "order.deleted"])) == both
    assert msgs(by_endpoint(ok.id, event_types=["order.other"])) == set()
    assert msgs(by_endpoint(ok.id, channel="us")) == {deleted.id}
    assert msgs(by_endpoint(ok.id, tag="vip")) == {created.id}
    assert msgs(by_endpoint(ok.id, status=MessageStatus.SUCCESS)) == both
    assert msgs(by_endpoint(ok.id, status=MessageStatus.FAIL)) == set()
    assert msgs(by_endpoint(ok.id, status_code_class=StatusCodeClass.CODE2XX)) == both
    assert msgs(by_endpoint(ok.id, status_code_class=StatusCodeClass.CODE5XX)) == set()
    assert msgs(by_endpoint(bad.id, status_code_class=StatusCodeClass.CODE5XX)) == both
    assert msgs(by_endpoint(bad.id, status=MessageStatus.FAIL, channel="eu")) == {created.id}
    assert [a.response for a in by_endpoint(ok.id, with_content=True)] == ["ok", "ok"]
    with_msg = {a.msg_id: a.msg for a in by_endpoint(ok.id, with_msg=True)}
    assert (with_msg[created.id].event_type, with_msg[created.id].tags) == (
        "order.created",
        ["vip"],
    )
    assert with_msg[deleted.id].channels == ["us"]

    # --- list_by_msg (by id or eventId)
    def by_msg(msg_id: str, **options):
        return svix.message_attempt.list_by_msg(
            app.id, msg_id, MessageAttemptListByMsgOptions(**options)
        ).data

    def endpoints(attempts) -> set:
        return {a.endpoint_id for a in attempts}

    assert endpoints(by_msg(created.id)) == endpoints(by_msg(created.event_id)) == {ok.id, bad.id}
    assert endpoints(by_msg(created.id, endpoint_id=ok.id)) == {ok.id}
    assert endpoints(by_msg(created.id, status=MessageStatus.FAIL)) == {bad.id}
    assert endpoints(by_msg(created.id, status_code_class=StatusCodeClass.CODE2XX)) == {ok.id}
    assert endpoints(by_msg(created.id, event_types=["order.created"])) == {ok.id, bad.id}
    assert by_msg(created.id, event_types=["order.deleted"]) == []
    assert endpoints(by_msg(created.id, channel="eu")) == {ok.id, bad.id}
    assert by_msg(created.id, channel="us") == []
    assert endpoints(by_msg(created.id, tag="vip")) == {ok.id, bad.id}
    assert by_msg(created.id, tag="bulk") == []

    # --- list_attempted_messages (the endpoint's log)
    def logged(endpoint_id: str, **options) -> set:
        listed = svix.message_attempt.list_attempted_messages(
            app.id, endpoint_id, MessageAttemptListAttemptedMessagesOptions(**options)
        )
        return set(ids(listed.data))

    assert logged(ok.id) == both
    assert logged(ok.id, event_types=["order.deleted"]) == {deleted.id}
    assert logged(ok.id, channel="eu") == {created.id}
    assert logged(ok.id, tag="bulk") == {deleted.id}
    assert logged(ok.id, status=MessageStatus.SUCCESS) == both
    assert logged(ok.id, status=MessageStatus.FAIL) == set()
    log = svix.message_attempt.list_attempted_messages(
        app.id, ok.id, MessageAttemptListAttemptedMessagesOptions(with_content=True, tag="vip")
    ).data
    assert [(m.id, m.payload, m.tags, m.status) for m in log] == [
        (created.id, {"o": 1}, ["vip"], MessageStatus.SUCCESS)
    ]

    # --- list_attempted_destinations pages
    page1 = svix.message_attempt.list_attempted_destinations(
        app.id, created.id, MessageAttemptListAttemptedDestinationsOptions(limit=1)
    )
    assert len(page1.data) == 1 and not page1.done
    page2 = svix.message_attempt.list_attempted_destinations(
        app.id,
        created.id,
        MessageAttemptListAttemptedDestinationsOptions(limit=1, iterator=page1.iterator),
    )
    assert {d.id for d in page1.data + page2.data} == {ok.id, bad.id}

    # --- get one attempt, by message id or eventId
    [ok_attempt] = by_msg(created.id, endpoint_id=ok.id)
    for key in (created.id, created.event_id):
        got = svix.message_attempt.get(app.id, key, ok_attempt.id)
        assert (got.id, got.msg_id, got.endpoint_id, got.response_status_code) == (
            ok_attempt.id,
            created.id,
            ok.id,
            200,
        )

    verify_all(secret_of(svix, app.id, ok.id), receiver.received(ok_path))
    assert sorted(webhook_ids(receiver.received(ok_path))) == sorted(both)
    # The failing endpoint's deliveries (first tries and retries) are signed too; deleting it
    # stops its retries, so none outlives the test unverified.
    bad_secret = secret_of(svix, app.id, bad.id)
    svix.endpoint.delete(app.id, bad.id)
    bad_deliveries = settled(receiver, bad_path)
    verify_all(bad_secret, bad_deliveries)
    assert set(webhook_ids(bad_deliveries)) == both


# --------------------------------------------------------------------------------------------
# Background tasks: replay-missing, bulk-replay, recover
# --------------------------------------------------------------------------------------------


def listed_tasks(svix: Svix, **options) -> Dict[str, BackgroundTaskOut]:
    items = all_pages(
        lambda it: svix.background_task.list(
            BackgroundTaskListOptions(limit=250, iterator=it, **options)
        )
    )
    return {t.id: t for t in items}


def test_replay_missing(svix: Svix, receiver: Receiver):
    app = new_app(svix, "Replay missing")
    all_path, late_path = f"/{app.id}/all", f"/{app.id}/late"
    catch_all = new_endpoint(svix, app.id, receiver.url(all_path))

    def send(event_type: str, n: int):
        return svix.message.create(app.id, MessageIn(event_type=event_type, payload={"n": n}))

    too_early = send("item.added", 0)
    wait_past(too_early.timestamp)
    since = now()
    wait_past(since)
    missed = send("item.added", 1)
    not_subscribed = send("item.removed", 2)
    # An endpoint created after those messages, for item.added only.
    late = new_endpoint(svix, app.id, receiver.url(late_path), event_types=["item.added"])
    live = send("item.added", 3)
    receiver.wait_for_count(late_path, 1)

    out = svix.endpoint.replay_missing(app.id, late.id, ReplayIn(since=since))
    assert_task_started(out, BackgroundTaskType.ENDPOINT_REPLAY)
    task = wait_for_task(svix, out.id)
    assert task.task == BackgroundTaskType.ENDPOINT_REPLAY
    # Only `missed`: too_early is before `since`, not_subscribed is filtered, live was sent.
    assert task.data["messagesSent"] == 1, task.data

    late_deliveries = receiver.wait_for_count(late_path, 2)
    assert sorted(webhook_ids(late_deliveries)) == sorted([live.id, missed.id])
    assert json.loads(late_deliveries[-1].body) == {"n": 1}
    assert_nothing_more(receiver, late_path, 2, seconds=0.5)
    verify_all(secret_of(svix, app.id, late.id), late_deliveries)
    all_deliveries = receiver.wait_for_count(all_path, 4)
    verify_all(secret_of(svix, app.id, catch_all.id), all_deliveries)
    assert sorted(webhook_ids(all_deliveries)) == sorted(
        [too_early.id, missed.id, not_subscribed.id, live.id]
    )

    replays = listed_tasks(svix, task=BackgroundTaskType.ENDPOINT_REPLAY)
    assert replays[out.id].data["messagesSent"] == 1
    assert out.id not in listed_tasks(svix, task=BackgroundTaskType.ENDPOINT_RECOVER)


def test_bulk_replay(svix: Svix, receiver: Receiver):
    app = new_app(svix, "Bulk replay")
    path = f"/{app.id}/bulk"
    endpoint = new_endpoint(svix, app.id, receiver.url(path))
    secret = secret_of(svix, app.id, endpoint.id)
    since = now() - timedelta(minutes=1)

    def send(event_type: str, tags: List[str], channels: List[str]):
        return svix.message.create(
            app.id,
            MessageIn(event_type=event_type, payload={}, tags=tags, channels=channels),
        )

    red = send("paint.dried", ["red"], ["north"])
    blue = send("paint.dried", ["blue"], ["south"])
    red_other_type = send("paint.spilled", ["red"], ["north"])
    originals = [red.id, blue.id, red_other_type.id]
    for message in (red, blue, red_other_type):
        wait_for_attempted(svix, app.id, endpoint.id, message.id, MessageStatus.SUCCESS)

    def bulk_replay(**filters) -> BackgroundTaskOut:
        out = svix.endpoint.bulk_replay(app.id, endpoint.id, BulkReplayIn(since=since, **filters))
        assert_task_started(out, BackgroundTaskType.ENDPOINT_BULK_REPLAY)
        return wait_for_task(svix, out.id)

    # Filters: tag and event types together pick `red` only; channel picks `blue` only.
    by_tag = bulk_replay(tag="red", event_types=["paint.dried"])
    assert by_tag.data["messagesSent"] == 1, by_tag.data
    by_channel = bulk_replay(channel="south")
    assert by_channel.data["messagesSent"] == 1, by_channel.data
    by_status = bulk_replay(status=MessageStatus.FAIL)
    assert by_status.data["messagesSent"] == 0, by_status.data
    # Unfiltered: every message sent to the endpoint, successful ones included.
    everything = bulk_replay(until=now() + timedelta(minutes=1))
    assert everything.data["messagesSent"] == 3, everything.data

    deliveries = receiver.wait_for_count(path, 3 + 1 + 1 + 3)
    assert sorted(webhook_ids(deliveries)) == sorted(originals * 2 + [red.id, blue.id])
    assert_nothing_more(receiver, path, 8, seconds=0.5)
    verify_all(secret, deliveries)

    finished = listed_tasks(
        svix, task=BackgroundTaskType.ENDPOINT_BULK_REPLAY, status=BackgroundTaskStatus.FINISHED
    )
    for task in (by_tag, by_channel, by_status, everything):
        assert finished[task.id].data["messagesSent"] == task.data["messagesSent"]
    assert by_tag.id not in listed_tasks(svix, status=BackgroundTaskStatus.RUNNING)
    with pytest.raises(HttpError) as unknown:
        svix.background_task.get("qtask_" + "0" * 27)
    assert unknown.value.status_code == 404


def test_recover(svix: Svix, receiver: Receiver):
    app = new_app(svix, "Recover")
    path = f"/{app.id}/recover"
    endpoint = new_endpoint(svix, app.id, receiver.url(path))
    secret = secret_of(svix, app.id, endpoint.id)
    event_type = unique_event_type("recover.test")
    svix.event_type.create(
        EventTypeIn(name=event_type, description="Recovered", schemas=example_schema({"r": 1}))
    )

    # An example is a one-off (manual) send: when the endpoint fails it, the message is failed
    # at once, with no retries scheduled.
    receiver.status_by_path[path] = 500
    failed = svix.endpoint.send_example(app.id, endpoint.id, EventExampleIn(event_type=event_type))
    wait_for_attempted(svix, app.id, endpoint.id, failed.id, MessageStatus.FAIL)
    receiver.status_by_path[path] = 200
    succeeded = svix.endpoint.send_example(
        app.id, endpoint.id, EventExampleIn(event_type=event_type)
    )
    wait_for_attempted(svix, app.id, endpoint.id, succeeded.id, MessageStatus.SUCCESS)
    assert webhook_ids(receiver.wait_for_count(path, 2)) == [failed.id, succeeded.id]

    out = svix.endpoint.recover(
        app.id, endpoint.id, RecoverIn(since=failed.timestamp - timedelta(minutes=1))
    )
    assert_task_started(out, BackgroundTaskType.ENDPOINT_RECOVER)
    task = wait_for_task(svix, out.id)
    assert task.task == BackgroundTaskType.ENDPOINT_RECOVER
    # Only the failed message is sent again; the successful one is not.
    assert task.data["messagesSent"] == 1, task.data

    deliveries = receiver.wait_for_count(path, 3)
    assert webhook_ids(deliveries) == [failed.id, succeeded.id, failed.id]
    assert_nothing_more(receiver, path, 3, seconds=0.5)
    verify_all(secret, deliveries)
    wait_for_attempted(svix, app.id, endpoint.id, failed.id, MessageStatus.SUCCESS)
    assert out.id in listed_tasks(svix, task=BackgroundTaskType.ENDPOINT_RECOVER)


# --------------------------------------------------------------------------------------------
# Authentication
# --------------------------------------------------------------------------------------------


def test_app_tokens_logout_and_expire_all(svix: Svix, hookwire, receiver: Receiver):
    app = new_app(svix, "Tokens")
    other_app = new_app(svix, "Other tokens")
    endpoint = new_endpoint(svix, app.id, receiver.url(f"/{app.id}/tokens"))

    def portal(app_id: str, **fields) -> Svix:
        access = svix.authentication.app_portal_access(app_id, AppPortalAccessIn(**fields))
        assert access.token and access.url.startswith("http")
        return client(hookwire, access.token)

    def works(token_client: Svix, app_id: str = app.id) -> bool:
        try:
            token_client.endpoint.list(app_id)
            return True
        except HttpError as error:
            assert error.status_code == 401, (error.status_code, error.code, error.detail)
            return False

    # An app token sees its own application only; organisation operations are refused.
    session = portal(app.id, session_id="session-1")
    assert ids(session.endpoint.list(app.id).data) == [endpoint.id]
    assert session.application.get(app.id).id == app.id
    with pytest.raises(HttpError) as foreign:
        session.endpoint.list(other_app.id)
    assert foreign.value.status_code == 404
    with pytest.raises(HttpError) as org_only:
        session.application.list()
    assert org_only.value.status_code == 403

    # app_portal_access can create the application it is asked about.
    new_uid = unique("portal")
    created = portal(new_uid, application=ApplicationIn(name="Made by portal access", uid=new_uid))
    assert created.application.get(new_uid).name == "Made by portal access"

    # logout ends the calling app token only.
    leaving, staying = portal(app.id), portal(app.id)
    leaving.authentication.logout()
    assert not works(leaving)
    assert works(staying)
    with pytest.raises(HttpError) as not_an_app_token:
        svix.authentication.logout()  # the admin token is not an app token: refused, kept
    assert 400 <= not_an_app_token.value.status_code < 500
    assert svix.application.get(app.id).id == app.id

    # expire_all with session ids ends those sessions' tokens...
    svix.authentication.expire_all(app.id, ApplicationTokenExpireIn(session_ids=["session-1"]))
    assert not works(session)
    assert works(staying)
    # ...and without, every token of the application; other applications' tokens live on.
    bystander = portal(other_app.id)
    svix.authentication.expire_all(app.id, ApplicationTokenExpireIn())
    assert not works(staying)
    assert works(bystander, other_app.id)
    assert works(portal(app.id)), "tokens issued after expire_all work"


# --------------------------------------------------------------------------------------------
# Health
# --------------------------------------------------------------------------------------------


def test_health(svix: Svix, hookwire):
    assert svix.health.get() is None
    assert client(hookwire, "hw_not-a-token").health.get() is None, "health needs no token"


# --------------------------------------------------------------------------------------------
# Routes the open-source server serves outside its OpenAPI document
# --------------------------------------------------------------------------------------------


def test_routes_only_older_sdks_call(svix: Svix, hookwire, receiver: Receiver):
    """dashboard-access, the two deprecated attempt lists, health/ping and HEAD health.

    svix 2.9.1 has no methods for these (older SDKs did), so they go through the SDK's own
    request plumbing (`_request_sync`: same auth header, same error mapping) and its models.
    """

    def call(method: str, path: str, query: Optional[Dict[str, str]] = None):
        return svix.health._request_sync(method=method, path=path, query_params=query)

    app = new_app(svix, "Older SDKs")
    ok_path, bad_path = f"/{app.id}/ok", f"/{app.id}/bad"
    receiver.status_by_path[bad_path] = 500
    ok = new_endpoint(svix, app.id, receiver.url(ok_path))
    bad = new_endpoint(svix, app.id, receiver.url(bad_path))
    ok_secret, bad_secret = secret_of(svix, app.id, ok.id), secret_of(svix, app.id, bad.id)

    access = AppPortalAccessOut.model_validate(
        call("post", f"/api/v1/auth/dashboard-access/{app.id}").json()
    )
    dashboard = client(hookwire, access.token)
    assert set(ids(dashboard.endpoint.list(app.id).data)) == {ok.id, bad.id}

    message = svix.message.create(app.id, MessageIn(event_type="legacy.sent", payload={"v": 1}))
    wait_for_attempted(svix, app.id, ok.id, message.id, MessageStatus.SUCCESS)
    wait_until(
        lambda: svix.message_attempt.list_by_endpoint(app.id, bad.id).data,
        what="a failed attempt",
    )

    def legacy(path: str, query: Optional[Dict[str, str]] = None) -> set:
        listed = ListResponseMessageAttemptOut.model_validate(call("get", path, query).json())
        assert all(a.msg_id == message.id for a in listed.data)
        return {a.endpoint_id for a in listed.data}

    by_msg = f"/api/v1/app/{app.id}/msg/{message.id}/attempt"
    assert legacy(by_msg) == {ok.id, bad.id}
    assert legacy(by_msg, {"endpoint_id": ok.id}) == {ok.id}
    assert legacy(by_msg, {"status": str(MessageStatus.FAIL.value)}) == {bad.id}
    assert legacy(f"/api/v1/app/{app.id}/msg/{message.id}/endpoint/{bad.id}/attempt") == {bad.id}

    assert call("get", "/api/v1/health/ping").status_code == 204
    assert call("head", "/api/v1/health").status_code == 204

    svix.endpoint.delete(app.id, bad.id)  # stops its retries
    verify_all(ok_secret, receiver.wait_for_count(ok_path, 1))
    verify_all(bad_secret, settled(receiver, bad_path))


# --------------------------------------------------------------------------------------------
# Divergences this suite found and the server fixed: one small test each, kept as regressions
# --------------------------------------------------------------------------------------------


def test_endpoint_upsert_creates_a_missing_endpoint(svix: Svix, receiver: Receiver):
    app = new_app(svix, "Endpoint upsert")
    uid = unique("ep")
    created = svix.endpoint.upsert(
        app.id, uid, EndpointUpsertIn(url=receiver.url(f"/{app.id}/upsert"), uid=uid)
    )
    assert created.uid == uid
    assert svix.endpoint.get(app.id, uid).id == created.id


def test_endpoint_list_defaults_to_newest_first(svix: Svix, receiver: Receiver):
    app = new_app(svix, "Endpoint order")
    created = [new_endpoint(svix, app.id, receiver.url(f"/{app.id}/{i}")) for i in range(3)]
    assert ids(svix.endpoint.list(app.id).data) == ids(created)[::-1]


def test_event_type_create_unarchives(svix: Svix):
    name = unique_event_type("archived.again")
    svix.event_type.create(EventTypeIn(name=name, description="first"))
    svix.event_type.delete(name)
    revived = svix.event_type.create(EventTypeIn(name=name, description="second"))
    assert (revived.archived, revived.description) == (False, "second")
    assert svix.event_type.get(name).archived is False
    svix.event_type.delete(name, EventTypeDeleteOptions(expunge=True))


def test_expunged_message_shows_expired_payload(svix: Svix):
    app = new_app(svix, "Expired payload")
    message = svix.message.create(app.id, MessageIn(event_type="user.deleted", payload={"x": 1}))
    svix.message.expunge_content(app.id, message.id)
    got = svix.message.get(app.id, message.id, MessageGetOptions(with_content=True))
    assert got.payload == {"expired": True}


def test_resend_of_expunged_message_is_refused(svix: Svix, receiver: Receiver):
    app = new_app(svix, "Resend expunged")
    path = f"/{app.id}/expunged"
    endpoint = new_endpoint(svix, app.id, receiver.url(path))
    secret = secret_of(svix, app.id, endpoint.id)
    message = svix.message.create(app.id, MessageIn(event_type="user.deleted", payload={"x": 1}))
    receiver.wait_for_count(path, 1)
    svix.message.expunge_content(app.id, message.id)

    try:
        svix.message_attempt.resend(app.id, message.id, endpoint.id)
        refused = None
    except HttpError as error:
        refused = error
    deliveries = receiver.wait_for_count(path, 1 if refused else 2)
    verify_all(secret, deliveries)  # whatever was sent is at least genuine
    assert refused is not None, f"resend was accepted and delivered {deliveries[-1].body!r}"
    assert refused.status_code == 400
    assert_nothing_more(receiver, path, 1, seconds=0.5)
