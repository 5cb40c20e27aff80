"""``rightsdesk keys …``: the encryption keys of stored data — make, check, rotate."""

from __future__ import annotations

import secrets
import sys

import click
from flask import current_app
from flask.cli import AppGroup, ScriptInfo, pass_script_info

from rightsdesk.cli.common import InputError, actor

keys_group = AppGroup("keys", help="Encryption keys: generate, check, rotate.")

KIND_CHOICE = click.Choice(["all", "package", "retained"])


def _kinds(name: str) -> list:
    from rightsdesk.core.keys import KINDS

    return list(KINDS.values()) if name == "all" else [KINDS[name]]


@keys_group.command("generate", with_appcontext=False)
@click.option(
    "--keep-current",
    is_flag=True,
    help="Put the keys in force after the new ones (to rotate: old data stays readable).",
)
@pass_script_info
def generate_command(info: ScriptInfo, keep_current: bool) -> None:
    """Print settings lines with new keys (standard output only; nothing is stored). Without
    --keep-current it needs no settings, so it works before production's keys exist."""
    from rightsdesk.core.keys import KINDS, new_key, variable

    current: dict[str, list[str]] = {}
    subject = audit = None
    if keep_current:
        with info.load_app().app_context():
            from rightsdesk.core.keys import keys_of

            current = {name: keys_of(kind) for name, kind in KINDS.items()}
            # One subject-hash key at a time (a new one needs 'apikey rehash-subjects' and
            # the host apps told): a configured one is kept as it is.
            subject = current_app.config.get("SUBJECT_HASH_KEY")
            # The audit chain's key cannot be rotated (every keyed event would fail verify).
            audit = current_app.config.get("AUDIT_KEY")
    for name, kind in KINDS.items():
        click.echo(f"{variable(kind)}={','.join([new_key(), *current.get(name, [])])}")
    click.echo(f"RIGHTSDESK_SUBJECT_HASH_KEY={subject or secrets.token_hex(32)}")
    click.echo(f"RIGHTSDESK_AUDIT_KEY={audit or secrets.token_hex(32)}")


@keys_group.command("check")
@click.option("--kind", type=KIND_CHOICE, default="all", show_default=True)
def check_command(kind: str) -> None:
    """Every stored encrypted item opens under the configured keys; exit 1 if any does not."""
    from rightsdesk.core.key_store import check, describe

    failed = False
    for each in _kinds(kind):
        tally = check(each)
        click.echo(describe(tally))
        for item in tally.unreadable:
            click.echo(f"  unreadable: {item}", err=True)
        if tally.behind:
            click.echo(f"  {tally.behind} under an older key: run 'rightsdesk keys rotate'")
        elif len(tally.keys) > 1 and not tally.unreadable:
            click.echo("  nothing needs the older keys: remove them from the setting")
        failed = failed or bool(tally.unreadable)
    if failed:
        sys.exit(1)


@keys_group.command("rotate")
@click.option("--kind", type=KIND_CHOICE, default="all", show_default=True)
@click.option("--batch", type=click.IntRange(1, 10000), default=200, show_default=True)
@click.option("--pause", type=click.FloatRange(0, 60), default=0.0, help="Seconds between batches.")
def rotate_command(kind: str, batch: int, pause: float) -> None:
    """Re-encrypt under the current (first) key what is stored under an older one. Resumable:
    run it again after an interruption. Then remove the older keys from the setting."""
    from rightsdesk.core.key_store import RotationBusy, describe, rotate
    from rightsdesk.core.keys import keys_of

    for each in _kinds(kind):
        if len(keys_of(each)) < 2:
            click.echo(f"{each.name}: one key in force, nothing to rotate to")
            continue
        try:
            tally = rotate(
                each, actor=actor(), batch=batch, pause=pause, progress=_progress(each.name)
            )
        except RotationBusy as busy:
            raise InputError(str(busy)) from None
        click.echo(f"{describe(tally)}; re-encrypted now: {tally.rotated}")
        if tally.unreadable:
            click.echo(f"  {len(tally.unreadable)} left as they were: run 'rightsdesk keys check'")
            sys.exit(1)
        click.echo(f"  done: remove the older keys from RIGHTSDESK_{each.setting}")


def _progress(name: str):
    def show(tally) -> None:
        click.echo(f"{name}: {tally.total} checked, {tally.rotated} re-encrypted", err=True)

    return show
