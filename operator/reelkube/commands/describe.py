"""`reelkube describe NAME`: one readable page about a resource: its state and progress,
outputs, conditions, webhook deliveries and the Kubernetes Events about it."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from reelkube.cli import EXIT_FAILED, EXIT_OK
from reelkube.commands.submit import add_cluster_arguments, connect

if TYPE_CHECKING:
    from reelkube.client import Snapshot


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "describe",
        help="status, outputs, conditions, webhooks and events of one resource",
        description=__doc__,
    )
    parser.add_argument("name", metavar="NAME", help="NAME or KIND/NAME")
    add_cluster_arguments(parser)
    parser.set_defaults(func=run)


def describe_page(snapshot: Snapshot, events: list[dict[str, Any]]) -> str:
    """The page's text (pure, so tests read it without a cluster)."""
    from reelkube.client.progress_line import progress_line

    status = snapshot.status
    metadata = snapshot.body["metadata"]
    lines = [
        f"Name:         {snapshot.name}",
        f"Namespace:    {snapshot.namespace}",
        f"Kind:         {snapshot.kind.kind}",
        f"Created:      {metadata.get('creationTimestamp', '')}",
    ]
    labels = metadata.get("labels") or {}
    if labels:
        lines.append("Labels:       " + ", ".join(f"{k}={v}" for k, v in sorted(labels.items())))
    spec = snapshot.body.get("spec") or {}
    if spec.get("template"):
        lines.append(f"Template:     {spec['template']}")
    if spec.get("cancel"):
        lines.append("Cancel:       requested")
    lines += [
        f"Progress:     {progress_line(snapshot.name, status).removeprefix(snapshot.name).strip()}",
        f"Attempts:     {status.attempts or 0}" + (f"   Job: {status.jobName}" if status.jobName else ""),
    ]
    if status.encoder:
        lines.append(f"Encoder:      {status.encoder}")
    for label, value in (("Started", status.startTime), ("Completed", status.completionTime)):
        if value:
            lines.append(f"{label + ':':<14}{value}")
    if status.reason or status.message:
        lines.append(f"Reason:       {status.reason or ''}")
        lines.append(f"Message:      {status.message or ''}")
    lines.append("Outputs:" + ("" if status.outputs else "      <none>"))
    for name, artifact in (status.outputs or {}).items():
        facts = [f"{artifact.size} bytes" if artifact.size is not None else "", artifact.contentType or ""]
        if artifact.width and artifact.height:
            facts.append(f"{artifact.width}x{artifact.height}")
        if artifact.duration:
            facts.append(f"{artifact.duration:g}s")
        lines.append(f"  {name}: {artifact.uri}  ({', '.join(f for f in facts if f)})")
        if artifact.sha256:
            lines.append(f"    sha256: {artifact.sha256}")
        if artifact.url:
            lines.append(
                f"    url: {artifact.url}"
                + (f"  (expires {artifact.expiresAt})" if artifact.expiresAt else "")
            )
    lines.append("Conditions:" + ("" if status.conditions else "   <none>"))
    for condition in status.conditions or []:
        lines.append(
            f"  {condition.type}={condition.status}  {condition.reason}  {condition.message}".rstrip()
        )
    webhook = status.webhook
    lines.append("Webhook:" + ("" if webhook else "      <none>"))
    if webhook is not None:
        for delivery in webhook.deliveries or []:
            code = f" HTTP {delivery.responseCode}" if delivery.responseCode is not None else ""
            detail = f"  {delivery.message}" if delivery.message else ""
            lines.append(
                f"  {delivery.event}: {delivery.state} after {delivery.attempts} attempt(s){code}{detail}"
            )
        if not webhook.deliveries:
            lines.append(f"  {webhook.event}: {webhook.state} after {webhook.attempts} attempt(s)")
    lines.append("Events:" + ("" if events else "       <none>"))
    for event in events:
        when = event.get("lastTimestamp") or event.get("eventTime") or ""
        count = f" (x{event['count']})" if (event.get("count") or 1) > 1 else ""
        lines.append(
            f"  {when}  {event.get('type', '')}  {event.get('reason', '')}{count}  {event.get('message', '')}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from reelkube.client import ClientError
    from reelkube.commands.get import split_name

    client = connect(args)
    kind, name = split_name(args.name)
    try:
        snapshot = client.get(name, args.namespace, kind)
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(describe_page(snapshot, client.events(snapshot)))
    return EXIT_OK
