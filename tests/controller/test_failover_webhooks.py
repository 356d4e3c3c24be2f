"""After a failover, the events the previous operator process left Pending go out before any
event the new one announces: a pod event can reach the new active replica before the resume of
its resource does, and "started" must not overtake the "queued" still owed (found by
tests/chaos/run_chaos.py: one of 20 renders got started, queued, succeeded)."""

from __future__ import annotations

from tests.controller.test_reconcile_webhooks import MemoryApi, eid, hooked, received, reconciler

from support.resources import JOB_NAME, job, pod, running
from support.webhooks import WebhookReceiver


def test_a_pending_event_left_by_the_previous_process_goes_before_the_next_one(
    webhook_receiver: WebhookReceiver,
) -> None:
    # The previous process wrote Queued with its "queued" Pending, and died before delivering.
    status = {
        "phase": "Queued",
        "jobName": JOB_NAME,
        "attempts": 0,
        "webhook": {
            "event": "queued",
            "state": "Pending",
            "deliveries": [{"event": "queued", "id": eid("queued"), "state": "Pending", "attempts": 0}],
        },
    }
    body = hooked(webhook_receiver, ["queued", "started", "succeeded"], status)
    api = MemoryApi(body, job=job(active=1), pods=[pod("p1", "Running", running())])
    rec, notifier, events = reconciler(api)

    rec.sync("RenderJob", "media", "summer-reel", trigger="pod")  # the first thing it hears of it
    told = received(webhook_receiver, 2)
    rec.reconcile("RenderJob", "media", "summer-reel", trigger="resume")  # the resume, later
    notifier.shutdown()
    events.close()

    assert told == [("queued", eid("queued")), ("started", eid("started"))]
    assert len(webhook_receiver.requests) == 2, "the resume does not send queued a second time"
