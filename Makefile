# Reelkube: common commands. `make help` lists them.
PYTHON ?= python3
export PYTHON

.PHONY: help deps demo render test test-fast test-faults kueue-test lint crds bench bench-tts bench-operator chaos

help:  ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

deps:  ## Install ffmpeg, fonts and the Python package (idempotent)
	tests/install-deps.sh

demo: deps  ## On a fresh machine: install, then render the captioned reel into out/
	reelkube render examples/captioned-reel.yaml -o out

render:  ## Render examples/captioned-reel.yaml (needs `make deps` once)
	reelkube render examples/captioned-reel.yaml -o out

test: deps  ## Everything: lint, unit, media, S3, then the real cluster and the operator end to end
	tests/run-all.sh

test-fast: deps  ## Everything that needs no cluster
	REELKUBE_SKIP_CLUSTER=1 tests/run-all.sh

test-faults: deps  ## The fault-injection tests on the real cluster (operator killed, standby takeover, render pod deleted)
	REELKUBE_TEST_MARKS=faults tests/run-all.sh

kueue-test: deps  ## Build Kueue from the Go module proxy, then prove RenderJobs admitted by it on the real cluster
	tests/cluster/build.sh kueue
	REELKUBE_TEST_MARKS=kueue tests/run-all.sh tests/e2e/test_kueue_cluster.py

lint:  ## ruff, mypy, the layer contracts (import-linter) and the CRD drift check
	ruff check operator tests
	ruff format --check operator tests
	mypy operator/reelkube
	lint-imports
	reelkube crds --check

crds:  ## Regenerate crds/ (and the chart's copy) from the pydantic models
	reelkube crds

bench: deps  ## Render benchmark: Reelkube vs the x264 floor vs MoviePy
	$(PYTHON) tests/bench/bench_render.py

bench-tts: deps  ## Piper real-time factor and the narrated example end to end
	$(PYTHON) tests/speech/bench_tts.py

bench-operator: deps  ## Apply-to-Job and apply-to-Succeeded latency on the real cluster
	$(PYTHON) tests/e2e/bench_operator.py

chaos:  ## Fault-injection run on the real cluster (restarts its parts: hold /tmp/reelkube-cluster.lock)
	$(PYTHON) tests/chaos/run_chaos.py $(CHAOS_ARGS)

# --- cluster / images (owned by tests/cluster; other targets go outside this block) ---
CLUSTER_SCRIPTS := tests/cluster

.PHONY: cluster-build cluster-up cluster-down cluster-s3 cluster-s3-stop cluster-test images

cluster-build:  ## Build (or reuse) the Kubernetes, etcd, kwok and helm binaries
	$(CLUSTER_SCRIPTS)/build.sh

cluster-up:  ## Start the single-node test cluster (idempotent); last line: export KUBECONFIG=...
	$(CLUSTER_SCRIPTS)/up.sh

cluster-down:  ## Stop the test cluster and remove everything it created
	$(CLUSTER_SCRIPTS)/down.sh

cluster-s3:  ## Start the tests' SigV4-verifying S3 server (reelkube-s3server) for pods (prints the endpoint pods use)
	$(CLUSTER_SCRIPTS)/s3.sh start

cluster-s3-stop:
	$(CLUSTER_SCRIPTS)/s3.sh stop

cluster-test:  ## Run the cluster tests (starts cluster, images and S3 as needed)
	python3 -m pytest -m cluster tests/cluster

images:  ## Build base, renderer, operator and storage images; load them into the cluster
	$(CLUSTER_SCRIPTS)/images.sh
# --- end cluster / images ---
