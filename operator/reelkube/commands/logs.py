"""`reelkube logs NAME [-f]`: the render pod's log, every attempt in order, each under a header.

With ``-f`` the earlier attempts are printed whole and the newest is followed until its
container ends; before any pod exists it waits for one.
"""

from __future__ import annotations

import argparse
import sys
import time

from reelkube.cli import EXIT_FAILED, EXIT_OK
from reelkube.commands.submit import EXIT_INTERRUPTED, add_cluster_arguments, connect

POD_WAIT_INTERVAL = 1.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("logs", help="the render pod's logs (all attempts)", description=__doc__)
    parser.add_argument("name", metavar="NAME", help="NAME or KIND/NAME")
    add_cluster_arguments(parser)
    parser.add_argument("-f", "--follow", action="store_true", help="follow the newest attempt")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kubernetes.client.exceptions import ApiException

    from reelkube.client import ClientError
    from reelkube.commands.get import split_name
    from reelkube.commands.submit import api_message

    client = connect(args)
    kind, name = split_name(args.name)
    try:
        snapshot = client.get(name, args.namespace, kind)
        pods = client.pods(snapshot)
        # A queued resource has no pod yet: with -f, wait for the first one to start.
        while args.follow and not (pods and _started(pods[-1])) and not snapshot.done:
            time.sleep(POD_WAIT_INTERVAL)
            snapshot = client.get(name, snapshot.namespace, snapshot.kind)
            pods = client.pods(snapshot)
        if not pods:
            print(
                f"{name}: no render pod ({snapshot.phase or 'Pending'}; the Job's pods may be gone)",
                file=sys.stderr,
            )
            return EXIT_FAILED
        for attempt, pod in enumerate(pods, start=1):
            pod_name = pod["metadata"]["name"]
            phase = (pod.get("status") or {}).get("phase", "")
            print(f"==> attempt {attempt}: pod {pod_name} ({phase}) <==", flush=True)
            follow = args.follow and attempt == len(pods)
            for line in client.pod_log(snapshot.namespace, pod_name, follow=follow):
                print(line, flush=follow)
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ApiException as exc:
        print(f"error: {api_message(exc)}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return EXIT_OK


def _started(pod: dict[str, object]) -> bool:
    """Whether a pod's container has started (its log can be read)."""
    status = pod.get("status") or {}
    assert isinstance(status, dict)
    return status.get("phase") in ("Running", "Succeeded", "Failed")
