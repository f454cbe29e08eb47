"""Fixtures shared by the whole suite. Each group lives in its own module; import it here."""

from languagekit import english_messages, no_language_chosen  # noqa: F401  (English unless a test asks otherwise)
from s3server import s3_bucket, s3_server, store  # noqa: F401  (the real S3 server, once per session; a store on both backends)
