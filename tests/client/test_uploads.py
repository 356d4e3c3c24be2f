"""`submit`'s uploads of local files, against the real S3 test server: which fields count, the
content-addressed keys, a second submit that sends nothing, the files the renderer image already
holds, a library index with its own relative files, and where the default storage comes from."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as kube

from reelkube.api.common import StorageSpec
from reelkube.client import Client, ClientError
from reelkube.client.default_storage import (
    container_env,
    storage_from_environment,
    storage_from_operators,
)
from reelkube.client.image_assets import IMAGE_ASSETS, folder_digests, in_image_asset_folder
from reelkube.client.uploads import (
    ContentStore,
    UploadReport,
    local_inputs,
    rewrite_local_inputs,
    upload_area,
    upload_local_inputs,
)
from support.s3 import S3Server

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_ASSETS = ROOT / "examples" / "assets"


def offline_client(namespace: str = "media") -> Client:
    """A Client whose API server does not exist: any API call it made would fail the test."""
    return Client(kube.ApiClient(kube.Configuration(host="http://127.0.0.1:9")), namespace)


def storage_env(server: S3Server, prefix: str) -> dict[str, str]:
    """The default storage and the user's own credentials, as a user's environment gives them."""
    return {
        "REELKUBE_STORAGE_BUCKET": server.bucket,
        "REELKUBE_STORAGE_ENDPOINT": server.endpoint_url,
        "REELKUBE_STORAGE_PREFIX": prefix,
        "AWS_ACCESS_KEY_ID": server.access_key_id,
        "AWS_SECRET_ACCESS_KEY": server.secret_access_key,
    }


@pytest.fixture
def manifest_dir(tmp_path: Path) -> Path:
    """A folder with a manifest's files: its own footage, music, an unedited copy of an example
    asset (which the image holds) and an edited one (which it does not)."""
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "footage.mp4").write_bytes(b"footage " * 1000)
    (tmp_path / "media" / "music.m4a").write_bytes(b"music " * 500)
    (tmp_path / "assets").mkdir()
    shutil.copy(EXAMPLE_ASSETS / "reel-background.jpg", tmp_path / "assets" / "reel-background.jpg")
    (tmp_path / "assets" / "slide-1.jpg").write_bytes(b"an edited slide")
    return tmp_path


def slideshow_body(namespace: str = "media") -> dict[str, Any]:
    return {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": "reel", "namespace": namespace},
        "spec": {
            "template": "slideshow",
            "props": {
                "images": ["assets/reel-background.jpg", "assets/slide-1.jpg", "https://cdn.example/x.jpg"],
                "musicUrl": "./media/music.m4a",
                "title": "media/music.m4a",  # text, not an input field: left alone
            },
            "timeline": {
                "tracks": [{"clips": [{"type": "video", "src": "media/footage.mp4"}, {"src": "missing.mp4"}]}]
            },
            "storage": None,
        },
    }


def test_the_image_asset_list_matches_examples_assets() -> None:
    # Dockerfile.renderer copies examples/assets to <asset folder>/assets: the client's list of
    # what the image holds must say the same, or submit would skip a file the pod lacks.
    assert folder_digests(EXAMPLE_ASSETS) == IMAGE_ASSETS, (
        "examples/assets changed: regenerate IMAGE_ASSETS in reelkube/client/image_assets.py"
        " from folder_digests(Path('examples/assets'))"
    )


def test_only_input_fields_naming_files_beside_the_manifest_count(manifest_dir: Path) -> None:
    found = {(i.field, i.written) for i in local_inputs(slideshow_body()["spec"], manifest_dir)}
    assert found == {
        ("spec.props.images[0]", "assets/reel-background.jpg"),
        ("spec.props.images[1]", "assets/slide-1.jpg"),
        ("spec.props.musicUrl", "./media/music.m4a"),
        ("spec.timeline.tracks[0].clips[0].src", "media/footage.mp4"),
    }


def test_a_path_is_in_the_image_only_with_the_same_content() -> None:
    digest = IMAGE_ASSETS["assets/reel-background.jpg"]
    assert in_image_asset_folder("assets/reel-background.jpg", digest)
    assert in_image_asset_folder("./assets/../assets/reel-background.jpg", digest)
    assert not in_image_asset_folder("assets/reel-background.jpg", hashlib.sha256(b"edited").hexdigest())
    assert not in_image_asset_folder("other/reel-background.jpg", digest)
    assert not in_image_asset_folder("../assets/reel-background.jpg", digest)


def test_uploads_are_content_addressed_and_a_second_submit_sends_nothing(
    s3_server: S3Server, manifest_dir: Path
) -> None:
    prefix = f"up-{manifest_dir.name[-8:]}"
    environ = storage_env(s3_server, prefix)
    body = slideshow_body()
    first = upload_local_inputs(offline_client(), body, manifest_dir, environ)

    footage = (manifest_dir / "media" / "footage.mp4").read_bytes()
    footage_key = f"{prefix}/media/uploads/sha256/{hashlib.sha256(footage).hexdigest()}/footage.mp4"
    clip = body["spec"]["timeline"]["tracks"][0]["clips"]
    assert clip[0]["src"] == f"s3://{s3_server.bucket}/{footage_key}"
    assert s3_server.get(footage_key) == footage
    assert clip[1]["src"] == "missing.mp4"  # not beside the manifest: the pod will say so
    images = body["spec"]["props"]["images"]
    assert images[0] == "assets/reel-background.jpg"  # the image holds this very file
    assert images[1].startswith(f"s3://{s3_server.bucket}/{prefix}/media/uploads/sha256/")
    assert images[1].endswith("/slide-1.jpg")
    assert images[2] == "https://cdn.example/x.jpg"
    assert body["spec"]["props"]["musicUrl"].endswith("/music.m4a")
    assert body["spec"]["props"]["title"] == "media/music.m4a"
    assert len(first.uploaded) == 3 and first.present == []
    assert first.in_image == ["spec.props.images[0]"]
    assert set(first.rewritten) == {
        "spec.props.images[1]",
        "spec.props.musicUrl",
        "spec.timeline.tracks[0].clips[0].src",
    }
    assert first.storage.startswith(f"s3://{s3_server.bucket}/{prefix}/media/ (the environment")

    again = slideshow_body()
    second = upload_local_inputs(offline_client(), again, manifest_dir, environ)
    assert second.uploaded == [] and sorted(second.present) == sorted(first.uploaded)
    assert again["spec"] == body["spec"]
    assert sorted(s3_server.list_keys(f"{prefix}/")) == sorted(first.uploaded)


def test_nothing_to_upload_needs_no_storage(manifest_dir: Path) -> None:
    body = slideshow_body()
    body["spec"]["props"] = {"images": ["assets/reel-background.jpg"]}
    body["spec"]["timeline"] = {}

    def no_store(report: UploadReport) -> ContentStore:
        raise AssertionError("a store was opened with nothing to upload")

    report = rewrite_local_inputs(body, manifest_dir, no_store)
    assert report.rewritten == {} and report.in_image == ["spec.props.images[0]"]


def test_a_library_index_is_uploaded_with_its_files_named_by_uri(s3_server: S3Server, tmp_path: Path) -> None:
    library = tmp_path / "library"
    library.mkdir()
    (library / "ocean.jpg").write_bytes(b"ocean pixels")
    index = {"assets": [{"id": "ocean", "src": "ocean.jpg", "kind": "image"},
                        {"id": "far", "src": "https://cdn.example/far.jpg", "kind": "image"}]}  # fmt: skip
    (library / "index.yaml").write_text(yaml.safe_dump(index))
    body = {"metadata": {"name": "x", "namespace": "media"},
            "spec": {"props": {"library": {"indexUrl": "library/index.yaml"}}}}  # fmt: skip
    report = rewrite_local_inputs(
        body, tmp_path, lambda r: ContentStore(s3_server.client(), s3_server.bucket, "lib/media", r)
    )
    uri = body["spec"]["props"]["library"]["indexUrl"]
    assert uri.startswith(f"s3://{s3_server.bucket}/lib/media/uploads/sha256/")
    assert uri.endswith("/index.yaml")
    uploaded_index = yaml.safe_load(s3_server.get(uri.split("/", 3)[3]))
    ocean = uploaded_index["assets"][0]["src"]
    assert ocean.startswith("s3://") and s3_server.get(ocean.split("/", 3)[3]) == b"ocean pixels"
    assert uploaded_index["assets"][1]["src"] == "https://cdn.example/far.jpg"
    assert len(report.uploaded) == 2

    (library / "index.yaml").write_text(yaml.safe_dump({"assets": [{"id": "a", "src": "gone.jpg"}]}))
    body["spec"]["props"]["library"]["indexUrl"] = "library/index.yaml"
    with pytest.raises(ClientError, match=r"indexUrl: library/index.yaml names 'gone.jpg'"):
        rewrite_local_inputs(
            body, tmp_path, lambda r: ContentStore(s3_server.client(), s3_server.bucket, "lib/media", r)
        )


def test_uploads_land_in_the_namespace_area_the_pod_may_read() -> None:
    from reelkube.storage.tenancy import S3ReadScope

    storage = StorageSpec(bucket="renders", prefix="reelkube/")
    area = upload_area(storage, "media")
    assert area == "reelkube/media"
    scope = S3ReadScope.for_pod([], "media", [storage])
    assert scope.allows("renders", f"{area}/uploads/sha256/{'0' * 64}/clip.mp4")
    assert not S3ReadScope.for_pod([], "other", [storage]).allows("renders", f"{area}/uploads/x")


def operator_deployment(namespace: str, name: str, **env: str) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in env.items()]
    entries.append({"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}})
    containers = [{"name": "sidecar", "env": []}, {"name": "operator", "env": entries}]
    return {"metadata": {"namespace": namespace, "name": name},
            "spec": {"template": {"spec": {"containers": containers}}}}  # fmt: skip


def test_the_default_storage_is_the_one_of_the_operator_watching_the_namespace() -> None:
    team = operator_deployment(
        "team-system", "reelkube",
        REELKUBE_STORAGE_BUCKET="team-renders", REELKUBE_WATCH_NAMESPACES="a,media",
        REELKUBE_STORAGE_CREDENTIALS_SECRET="team-s3", REELKUBE_STORAGE_ENDPOINT="http://s3.team.svc:9000",
    )  # fmt: skip
    other = operator_deployment(
        "a-system", "reelkube", REELKUBE_STORAGE_BUCKET="other-renders", REELKUBE_WATCH_NAMESPACES="b"
    )
    everywhere = operator_deployment("z-system", "reelkube", REELKUBE_STORAGE_BUCKET="all-renders")
    assert container_env(team)["REELKUBE_STORAGE_BUCKET"] == "team-renders"
    assert "AWS_ACCESS_KEY_ID" not in container_env(team)  # a valueFrom is the pod's, not ours

    found = storage_from_operators([everywhere, other, team], "media")
    assert found is not None
    assert (found.storage.bucket, found.storage.endpointUrl, found.storage.prefix) == (
        "team-renders", "http://s3.team.svc:9000", "reelkube",
    )  # fmt: skip
    assert found.credentials_secret == "team-s3" and found.source == "Deployment team-system/reelkube"
    fallback = storage_from_operators([everywhere, other], "media")
    assert fallback is not None and fallback.storage.bucket == "all-renders"
    assert storage_from_operators([other], "media") is None
    no_bucket = operator_deployment("x", "reelkube", REELKUBE_STORAGE_BUCKET="")
    assert storage_from_operators([no_bucket], "media") is None


def test_the_embedded_storage_is_named_by_its_service_url_outside_the_pod() -> None:
    embedded = operator_deployment(
        "reelkube-system", "reelkube",
        REELKUBE_STORAGE_BUCKET="reelkube",
        REELKUBE_STORAGE_ENDPOINT="http://$(REELKUBE_STORAGE_SERVICE_HOST):9000",
        REELKUBE_EMBEDDED_STORAGE_URL="http://reelkube-storage.reelkube-system.svc:9000",
    )  # fmt: skip
    found = storage_from_operators([embedded], "media")
    assert found is not None
    assert found.storage.endpointUrl == "http://reelkube-storage.reelkube-system.svc:9000"
    own = operator_deployment(
        "s", "reelkube", REELKUBE_STORAGE_BUCKET="own-renders", REELKUBE_STORAGE_ENDPOINT="http://minio:9000",
        REELKUBE_EMBEDDED_STORAGE_URL="",
    )  # fmt: skip
    found = storage_from_operators([own], "media")
    assert found is not None and found.storage.endpointUrl == "http://minio:9000"


def test_the_users_environment_names_the_default_storage() -> None:
    found = storage_from_environment(
        {"REELKUBE_STORAGE_BUCKET": "renders", "REELKUBE_STORAGE_PATH_STYLE": "false"}, "env"
    )
    assert found is not None and found.storage.bucket == "renders" and not found.storage.pathStyle
    assert storage_from_environment({}, "env") is None
