"""The Reelkube operator: RenderJob and TTSJob resources reconciled into batch/v1 Jobs.

What differs between RenderJob and TTSJob is the kind registry (``reelkube.api.kinds``); what
the pod may rely on is the pod contract (``reelkube.api.pod_contract``). Here, one module per
concern, pure ones first:

- ``decision``: what to do with a resource, given what was observed (pure; every branch one
  row of a table test);
- ``job_observation``: what a Job and its pods say about the resource (pure);
- ``status_updates`` + ``conditions``: the status patch for a new phase (pure);
- ``job_manifests``: the Job and its ConfigMap, ServiceAccount, Role and RoleBinding (pure);
- ``reconcile``: the Reconciler, which reads, asks ``decision`` and carries the action out;
- ``admission``: the priority queues: each waiting resource's place under the cluster-wide,
  per-kind and per-namespace limits (pure), and the thread that starts the next ones;
- ``events``: a Kubernetes Event on the resource for each phase transition;
- ``stall_watch``: a tick that has the reconciler judge renders whose progress stands still;
- ``notify``: webhook delivery off the reconcile path;
- ``kube``, ``metrics``, ``settings``: the API calls, the Prometheus metrics, the chart's values;
- ``handlers``: the kopf wiring, kept thin.

Progress identity: each render pod patches its *own* resource's ``status`` through the API
server with a dedicated ServiceAccount whose Role grants ``get``/``patch`` on
``<plural>/status`` for that one ``resourceNames`` entry and nothing else (see
``reelkube.pipeline.status_reporter``). The operator is not in the progress data path.
"""
