"""The operator's tests: pure unit tests, plus handler tests (marked ``cluster``) that run the
kopf operator in-process against the real test cluster (fixtures from support.cluster)."""
