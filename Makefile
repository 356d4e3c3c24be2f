# --- cluster / images (owned by tests/cluster; other targets go outside this block) ---
CLUSTER_SCRIPTS := tests/cluster

.PHONY: cluster-build cluster-up cluster-down cluster-s3 cluster-s3-stop cluster-test images

cluster-build:  ## Build (or reuse) the Kubernetes, etcd, kwok and helm binaries
	$(CLUSTER_SCRIPTS)/build.sh

cluster-up:  ## Start the single-node test cluster (idempotent); last line: export KUBECONFIG=...
	$(CLUSTER_SCRIPTS)/up.sh

cluster-down:  ## Stop the test cluster and remove everything it created
	$(CLUSTER_SCRIPTS)/down.sh

cluster-s3:  ## Start the moto S3 server for pods (prints the endpoint pods use)
	$(CLUSTER_SCRIPTS)/s3.sh start

cluster-s3-stop:
	$(CLUSTER_SCRIPTS)/s3.sh stop

cluster-test:  ## Run the cluster tests (starts cluster, images and S3 as needed)
	python3 -m pytest -m cluster tests/cluster

images:  ## Build base, renderer and operator images; load them into the cluster
	$(CLUSTER_SCRIPTS)/images.sh
# --- end cluster / images ---
