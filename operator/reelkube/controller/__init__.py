"""The Reelkube operator: RenderJob and TTSJob resources reconciled into batch/v1 Jobs.

Three concerns, three places (after mysql-operator's split and Kueue's generic reconciler):

- ``kinds``: a small adapter per kind (what differs between RenderJob and TTSJob);
- ``builders``: pure functions of a resource and :class:`OperatorSettings` that make manifests;
- ``reconcile`` + ``jobstatus`` + ``conditions``: one generic reconcile path and the status it
  writes; ``handlers`` wires them to kopf and stays thin.

Progress identity: each render pod patches its *own* resource's ``status`` through the API
server with a dedicated ServiceAccount whose Role grants ``get``/``patch`` on
``<plural>/status`` for that one ``resourceNames`` entry and nothing else (see
``reelkube.pipeline.status_reporter``). The operator is not in the progress data path.
"""
