"""The fixtures every test folder shares, from the test support package (tests/support).

support.network     closed_port_url
support.s3          s3_server (a real S3 server with a fresh bucket, for the session)
support.verifying_s3  verifying_s3, verifying_s3_env (the project's SigV4-verifying S3 server)
support.webhooks    webhook_receiver, webhook_receiver_factory
support.cluster     cluster, kubectl, base_image, project_images, namespace (tests marked cluster)
support.media       media (tiny sample media made with ffmpeg; tests marked slow)
support.narration   narration (one real Piper narration per session; tests marked slow)
support.tool_guard  tests not marked slow run without ffmpeg, ffprobe and Piper
"""

pytest_plugins = [
    "support.network",
    "support.s3",
    "support.verifying_s3",
    "support.webhooks",
    "support.cluster",
    "support.media",
    "support.narration",
    "support.tool_guard",
]
