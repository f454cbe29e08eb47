"""``diplomatie gate``: serve the communities' current releases to their members."""

from __future__ import annotations

from pathlib import Path

import click

from gate import tokens
from pipeline.messages import N_


@click.command("gate", help=N_("Serve /c/<community>/… to members, with /login, /auth, /logout, /healthz and /metrics."))
@click.option("--store", "store_url", required=True, help=N_("The store: a folder, file:///path or s3://bucket/prefix."))
@click.option("--endpoint-url", envvar="AWS_ENDPOINT_URL", help=N_("S3 endpoint (S3-compatible servers)."))
@click.option("--keys", "keys_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help=N_("The key directory made by `diplomatie keys init`."))
@click.option("--base-url", required=True, help=N_("The gate's public address, e.g. https://cables.example.org"))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help=N_("Worker processes."))
@click.option("--session-ttl", default="8h", show_default=True, help=N_("Session lifetime (e.g. 8h)."))
@click.option("--smtp-host", envvar="DIPLOMATIE_SMTP_HOST", help=N_("SMTP server; without it links go to the log."))
@click.option("--smtp-port", envvar="DIPLOMATIE_SMTP_PORT", default=25, show_default=True, type=int)
@click.option("--smtp-from", envvar="DIPLOMATIE_SMTP_FROM", default="diplomatie@localhost", show_default=True)
@click.option("--smtp-starttls/--no-smtp-starttls", envvar="DIPLOMATIE_SMTP_STARTTLS", default=False)
@click.option("--cache-size", default="256", show_default=True, help=N_("Blob cache per worker, in MiB."))
@click.option("--insecure-dev", is_flag=True, help=N_("Allow http:// on localhost (cookies without Secure)."))
@click.option("--interface", type=click.Choice(["rsgi", "asgi"]), default="rsgi", show_default=True,
              help=N_("granian interface (RSGI measured faster)."))
@click.option("--accel-redirect", "accel_redirect", metavar="PREFIX",
              help=N_("Behind nginx: answer authorised pages with X-Accel-Redirect PREFIX/<sha256> (an internal location serving the store's blobs/), so nginx sends the bytes. See deploy/nginx.conf."))
@click.option("--trusted-proxy", "trusted_proxies", multiple=True, metavar="IP",
              help=N_("A proxy address whose X-Forwarded-For names the client (rate limits); repeatable."))
@click.option("--grant-keys", "grant_keys", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help=N_("Behind nginx with Lua: the grant key file the gate writes (0640) and rotates, and nginx reads to check per-community grants itself. See deploy/README.md."))
@click.option("--grant-ttl", default=tokens.GRANT_TTL, show_default=True,
              type=click.IntRange(1, tokens.MAX_GRANT_TTL),
              help=N_("Seconds a grant lets nginx serve a member without asking the gate (sign-out and removal take effect within it)."))
@click.option("--header-timeout", default=5.0, show_default=True, type=click.FloatRange(0.001, 60),
              help=N_("Seconds a connection may take to send a request's headers (slow or half-sent requests are closed after it)."))
@click.option("--keep-alive/--no-keep-alive", default=True, show_default=True,
              help=N_("Keep connections open between requests (idle ones are closed after --header-timeout)."))
@click.option("--max-connections", default=16384, show_default=True, type=click.IntRange(1),
              help=N_("Connections served at once per worker; more wait in the --backlog queue."))
@click.option("--backlog", default=4096, show_default=True, type=click.IntRange(128),
              help=N_("Connections the kernel queues before the gate accepts them (capped by net.core.somaxconn)."))
@click.option("--metrics-listen", default="127.0.0.1:9108", show_default=True, metavar="HOST:PORT",
              help=N_("Where /metrics is served (its own address; 'off' for nowhere)."))
@click.option("--metrics-token", envvar="DIPLOMATIE_METRICS_TOKEN",
              help=N_("Also serve /metrics on the main port to 'Authorization: Bearer <token>' (16+ characters)."))
@click.option("--max-body", default=8192, show_default=True, type=click.IntRange(1),
              help=N_("Largest form body in bytes (413 as soon as a request declares or sends more)."))
@click.option("--body-timeout", default=10.0, show_default=True, type=click.FloatRange(0.1),
              help=N_("Seconds a request body may take to arrive (then 408)."))
@click.option("--max-inflight", default=32, show_default=True, type=click.IntRange(1),
              help=N_("Requests one client address may have in progress at once (then 429)."))
@click.option("--oidc-issuer", envvar="DIPLOMATIE_OIDC_ISSUER",
              help=N_("State agents' single sign-on: the OpenID Connect provider's issuer URL."))
@click.option("--oidc-client-id", envvar="DIPLOMATIE_OIDC_CLIENT_ID", help=N_("The gate's client id at the provider."))
@click.option("--oidc-client-secret", envvar="DIPLOMATIE_OIDC_CLIENT_SECRET",
              help=N_("The gate's client secret (better given by environment variable)."))
@click.option("--service-name", envvar="DIPLOMATIE_SERVICE_NAME", default="",
              help=N_("The service's name on every page and e-mail (default: Diplomatie)."))
@click.option("--service-tagline", envvar="DIPLOMATIE_SERVICE_TAGLINE", default="",
              help=N_("What the service is, under its name (default, in the reader's language: Communities of the Ministry for Europe and Foreign Affairs)."))
def command(store_url, endpoint_url, keys_dir, base_url, host, port, workers, session_ttl, smtp_host, smtp_port,
            smtp_from, smtp_starttls, cache_size, insecure_dev, interface, accel_redirect, trusted_proxies,
            grant_keys, grant_ttl, header_timeout, keep_alive, max_connections, backlog,
            metrics_listen, metrics_token, max_body, body_timeout, max_inflight,
            oidc_issuer, oidc_client_id, oidc_client_secret, service_name, service_tagline) -> None:
    import os

    from gate.launch import launch

    try:
        launch(
            host=host, port=port, workers=workers, interface=interface,
            limits=dict(header_timeout=header_timeout, keep_alive=keep_alive, max_connections=max_connections,
                        backlog=backlog),
            smtp=dict(host=smtp_host, port=smtp_port, sender=smtp_from, starttls=smtp_starttls,
                      username=os.environ.get("DIPLOMATIE_SMTP_USER"),
                      password=os.environ.get("DIPLOMATIE_SMTP_PASSWORD")),
            store=store_url, keys=str(keys_dir), base_url=base_url, endpoint_url=endpoint_url,
            insecure_dev=insecure_dev, session_ttl=tokens.parse_duration(session_ttl),
            cache_bytes=int(cache_size) * 1024 * 1024,
            accel_redirect=accel_redirect, trusted_proxies=tuple(trusted_proxies),
            grant_keys=str(grant_keys) if grant_keys else None, grant_ttl=grant_ttl,
            metrics_listen=None if metrics_listen == "off" else metrics_listen, metrics_token=metrics_token,
            max_body=max_body, body_timeout=body_timeout, max_inflight=max_inflight,
            oidc_issuer=oidc_issuer, oidc_client_id=oidc_client_id, oidc_client_secret=oidc_client_secret,
            service_name=service_name, service_tagline=service_tagline,
        )
    except (ValueError, tokens.KeysError) as exc:
        raise click.ClickException(str(exc)) from None
