"""Fixtures shared by the whole suite. Each group lives in its own module; import it here."""

from hypothesis import HealthCheck, settings
from languagekit import english_messages, no_language_chosen  # noqa: F401  (English unless a test asks otherwise)
from s3server import s3_bucket, s3_server, store  # noqa: F401  (the real S3 server, once per session; a store on both backends)

# Every property test runs the same examples on every run (derandomize) and never fails on time: how fast
# examples are generated or run depends on what else the machine is doing, not on the code under test.
# Tests that list health checks of their own add HealthCheck.too_slow to their list.
settings.register_profile("suite", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")
