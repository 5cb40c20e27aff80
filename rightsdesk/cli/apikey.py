"""``rightsdesk apikey …``: keys of host applications for the JSON API."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from rightsdesk.cli.common import InputError, actor
from rightsdesk.core.clock import utcnow
from rightsdesk.extensions import db

apikey_group = AppGroup("apikey", help="Keys of host applications for the JSON API.")


@apikey_group.command("create")
@click.option("--name", required=True, help="The host application, e.g. shop.")
@click.option(
    "--scopes",
    default="requests:create,requests:read,restrictions:read",
    show_default=True,
    help="Comma-separated.",
)
@click.option("--webhook-url", default=None, help="Where status changes are POSTed (HTTPS).")
def apikey_create(name: str, scopes: str, webhook_url: str | None) -> None:
    """Create a key; the key and its signing secret are printed once and never again."""
    from rightsdesk.requests.host_apps import ApiKeyError, create_key

    try:
        issued = create_key(
            name=name,
            scopes=[s.strip() for s in scopes.split(",") if s.strip()],
            webhook_url=webhook_url,
            actor=actor(),
            now=utcnow(),
        )
    except ApiKeyError as error:
        raise InputError(str(error)) from None
    click.echo(f"key for {issued.key.name} ({issued.key.scopes}); store both now, shown once:")
    click.echo(f"api key:        {issued.secret_key}")
    click.echo(f"signing secret: {issued.signing_secret}")


@apikey_group.command("list")
def apikey_list() -> None:
    """One line per key: name, prefix, scopes, state, webhook URL."""
    from sqlalchemy import select

    from rightsdesk.models import ApiKey

    for key in db.session.scalars(select(ApiKey).order_by(ApiKey.name)):
        state = "revoked" if key.revoked_at else "active"
        click.echo(
            f"{key.name}\trdk_{key.prefix}_…\t{key.scopes}\t{state}\t{key.webhook_url or '-'}"
        )


@apikey_group.command("revoke")
@click.argument("name")
def apikey_revoke(name: str) -> None:
    """Revoke a key at once (its requests and their history stay)."""
    from rightsdesk.requests.host_apps import ApiKeyError, revoke_key

    try:
        revoke_key(name, actor=actor(), now=utcnow())
    except ApiKeyError as error:
        raise InputError(str(error)) from None
    click.echo(f"revoked {name}")


@apikey_group.command("subject-key")
def apikey_subject_key() -> None:
    """The key host apps use to name subjects: HMAC-SHA256(key, normalised e-mail), hex."""
    from rightsdesk.requests.host_apps import subject_hash_key

    click.echo(subject_hash_key().hex())


@apikey_group.command("rehash-subjects")
def apikey_rehash_subjects() -> None:
    """Recompute every subject's lookup hash (after an upgrade or a new subject-hash key)."""
    from sqlalchemy import select

    from rightsdesk.models import Subject
    from rightsdesk.requests.host_apps import subject_hash

    count = 0
    for subject in db.session.scalars(select(Subject)):
        subject.lookup_hash = subject_hash(subject.email)
        count += 1
    db.session.commit()
    click.echo(f"rehashed {count} subject(s)")
