"""Test support: servers, tools and builders shared by the test folders (not tests themselves).

Tests import these as ``support.<module>`` (pytest's ``pythonpath`` names tests/); the modules that
define fixtures are plugins, named in tests/conftest.py's ``pytest_plugins``, so their fixtures
reach every folder without an import.

Servers and their fixtures
    network          free_port; closed_port_url
    s3               S3Server (reelkube-s3server, or REELKUBE_S3_ENDPOINT_URL); s3_server
    webhooks         WebhookReceiver; webhook_receiver, webhook_receiver_factory
    file_server      serve_files: a loopback file server that can also stall or trickle
The cluster (tests marked ``cluster``)
    cluster          Cluster; cluster, kubectl, base_image, project_images, namespace
    reelkube_cluster the CRDs and the chart release in the cluster, waiting on resources
Media and speech (tests marked ``slow``)
    media            ffmpeg/ffprobe: the ``media`` sample files, probe, frames, loudness
    narration        one real Piper narration per session; narration
    tool_guard       tests not marked slow run without ffmpeg, ffprobe and Piper
Builders
    timelines        small timelines, and plans over fake probes (no media opened)
    resources        RenderJob/TTSJob bodies, their Jobs and pods
    tools            a missing external program: skip, or fail where tools are required
"""
