"""Export files and documents in S3."""

from __future__ import annotations

from typing import Any


class S3FileStore:
    """``FileStore`` on one S3 bucket (server-side encrypted by the bucket's default)."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def put(self, key: str, path: str, content_type: str) -> None:
        """Upload a local file (multipart for large ones, by boto3's transfer manager)."""
        self._s3.upload_file(path, self._bucket, key, ExtraArgs={"ContentType": content_type})

    def get(self, key: str) -> bytes:
        """The stored bytes of ``key``."""
        return bytes(self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read())

    def link(self, key: str, file_name: str, seconds: int = 3600) -> str:
        """A presigned download link that names the file for the browser."""
        return str(
            self._s3.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self._bucket,
                    "Key": key,
                    "ResponseContentDisposition": f'attachment; filename="{file_name}"',
                },
                ExpiresIn=seconds,
            )
        )
