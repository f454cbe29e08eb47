"""Fixtures shared by the whole suite. Each group lives in its own module; import it here."""

from s3server import s3_bucket, s3_server  # noqa: F401  (the real S3 server, once per session)
