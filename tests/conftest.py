"""The fixtures every test folder shares, from the test support package (tests/support).

support.network     closed_port_url
support.s3          s3_server (a real S3 server with a fresh bucket, for the session)
support.webhooks    webhook_receiver, webhook_receiver_factory
support.cluster     cluster, kubectl, base_image, project_images, namespace (tests marked cluster)
"""

pytest_plugins = [
    "support.network",
    "support.s3",
    "support.webhooks",
    "support.cluster",
]
