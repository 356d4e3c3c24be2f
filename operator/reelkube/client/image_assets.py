"""What the renderer image's read-only asset folder holds, so `submit` uploads only the rest.

The renderer image copies ``examples/assets`` to ``<asset folder>/assets`` (Dockerfile.renderer),
so an example's ``assets/...`` path resolves in the pod exactly as beside the manifest. The
client cannot look inside the image; it carries this list instead (path in the folder → SHA-256,
held equal to ``examples/assets`` by tests/client/test_uploads.py). A relative path whose local
file has the listed path and content is left for the pod to find; anything else, an edited copy
included, is uploaded.
"""

from __future__ import annotations

import hashlib
import posixpath
from pathlib import Path

IMAGE_ASSETS: dict[str, str] = {
    "assets/clip.mp4": "84e046f4159ffd0a6eed3c69541788ff1c49abad40a4cc1329b4f3963d776ea8",
    "assets/library/city-night.jpg": "538be7f34db7e6bda16ed3410a91d6613ed44a17509d1adc8c8743048631db76",
    "assets/library/data.jpg": "7f7825429ddd7cd4d5d160199158e67e62e5399a4c869b05d02c9c3b09cb0a2c",
    "assets/library/desert.jpg": "2e99cc5eb2c0c72d9de7dd650945f45ea24c829485ea84c46cd82d4efff79bf7",
    "assets/library/energy-portrait.jpg": "c23493c0888873ba82cb1078d12a91ddb73bcbf1665149be3be5a0814a4cd0d3",
    "assets/library/forest.jpg": "4e0947ddc2d8666808f9a54c797fae8e175a52463fe22873a0b4561b3ec8dfcb",
    "assets/library/growth-clip.mp4": "e33b7ff5ba3b2aab809af7aed43674362bd7732b3de3f53d2083b3d0b76da2f2",
    "assets/library/index.yaml": "40a1786b180d69ecfa8c06b6978ab44333e23d66c0ae0f9ded5f33bed96754c6",
    "assets/library/make_library.py": "8a6e7f41412ffeb6ad675ed1d76c169304443f4b435ad8364105c0465495c67f",
    "assets/library/mountain.jpg": "662a70b00e58e7b6ccea9f1909e047103b73aa76776925d9a89ae9c59949128b",
    "assets/library/ocean-portrait.jpg": "3a2b3d3b9bce02ebf4ceb2bc01920eb682b1efd1a771584187285ce0efb3496f",
    "assets/library/ocean.jpg": "c5c3893031a6eab12b6ed277a28506558c40c150d4d4dcbfefbbddbd66e6309d",
    "assets/library/space.jpg": "edfaa521d66acdca71f805528b66e5e6a6b57a3993690ce25bca571ecba21fd0",
    "assets/library/traffic-clip.mp4": "8d16fc010ab46f632b7992a602f91558dc2ab63e7e3a52432f49a3cf8ed8c964",
    "assets/library/voiceover.m4a": "3f755645993fc0607215ddf3a08666bbe1a3ddfeacf630eee9c6de635fc97ee1",
    "assets/make_assets.py": "c64ddfb6109e711c2929ca161612c969ee4c8c9d70a2ae6b80e9311f8dedbd1e",
    "assets/music.m4a": "ceb83b6234f8134a188969d0d586898a767c129590c16959d4fe594be799c132",
    "assets/narrated/background.mp4": "ed03b55f8ec8207f70668b6a6d40f1a38333ec6f8ff1bc442a34ad408d270d0f",
    "assets/narrated/make_assets.sh": "8a213fd97a40033f27c58c9060b503f1979c6b7c64042679fe8cd83a7d842807",
    "assets/narrated/music.mp3": "7304fce0bd109df49be16ae3a55eaeeea3424acf6f617bac8c7c912004c5b0ce",
    "assets/product.png": "01a9d0bf980d4444a307acfc4a39b6ed3d82c364ca5d46bba6d9f78c12b43dcf",
    "assets/reel-background.jpg": "c3d041ee30633f466aeb03f5f099bb3d50ad1043dffc12b5f54f51dca93f4948",
    "assets/slide-1.jpg": "b8aae077e144d0042f597479f512b56732704477b9e9d26bc9543c22cad5230d",
    "assets/slide-2.jpg": "8d8efe0579ab5ca34adf7ea99a8532466c57b21c414e2284c411197bf4dacb83",
    "assets/slide-3.jpg": "db8a36e67a6e5bf55c0a16c738328b12ea1d060372e06182e076a459e3d3c2d2",
    "assets/slide-4.jpg": "064d59fe5c0cbbe8e6aca21c3aa3b1d648fa288d4e34a8a297c464ba22a7b363",
}
"""Every file of the image's asset folder: its path there, and the SHA-256 of its content."""


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's content, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_digests(folder: Path, under: str = "assets") -> dict[str, str]:
    """What :data:`IMAGE_ASSETS` says for a folder copied to ``<asset folder>/<under>``."""
    return {
        f"{under}/{path.relative_to(folder).as_posix()}": file_sha256(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def in_image_asset_folder(written: str, sha256: str) -> bool:
    """Whether a relative path, as written in a manifest, names a file the image's asset folder
    holds with this content (``./`` and inner ``..`` are normalized as the pod does)."""
    normalized = posixpath.normpath(written)
    return not normalized.startswith("..") and IMAGE_ASSETS.get(normalized) == sha256
