"""Which storage failures are permanent: a refused credential or permission fails the resource at
once (StorageDenied, not retried); an unreachable endpoint or a server error is retried."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from reelkube.errors import InputError, InputRejected, StorageDenied, StorageFailed
from reelkube.storage.s3 import _input_failure, _storage_failure


def client_error(code: str, status: int) -> ClientError:
    response = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "PutObject")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "error", "retryable"),
    [
        (client_error("InvalidAccessKeyId", 403), StorageDenied, False),
        (client_error("SignatureDoesNotMatch", 403), StorageDenied, False),
        (client_error("AccessDenied", 403), StorageDenied, False),
        (NoCredentialsError(), StorageDenied, False),
        (client_error("InternalError", 500), StorageFailed, True),
        (client_error("SlowDown", 503), StorageFailed, True),
        (EndpointConnectionError(endpoint_url="http://s3.invalid"), StorageFailed, True),
    ],
)
def test_upload_failures(exc: Exception, error: type[StorageFailed], retryable: bool) -> None:
    failure = _storage_failure(exc, bucket="b", endpoint="http://s3.invalid")
    assert type(failure) is error and failure.retryable is retryable


def test_denied_credentials_name_the_code_and_bucket() -> None:
    failure = _storage_failure(client_error("InvalidAccessKeyId", 403), bucket="media", endpoint=None)
    assert failure.reason == "StorageDenied"
    assert (
        failure.message == "storage at AWS S3 refused the credentials for bucket 'media' (InvalidAccessKeyId)"
    )


@pytest.mark.parametrize(
    ("exc", "retryable"),
    [
        (client_error("AccessDenied", 403), False),
        (NoCredentialsError(), False),
        (client_error("InternalError", 500), True),
    ],
)
def test_download_failures(exc: Exception, retryable: bool) -> None:
    failure = _input_failure(exc, "s3://b/k", 10.0, None)
    assert isinstance(failure, InputError) and failure.retryable is retryable
    assert isinstance(failure, InputRejected) is not retryable
