"""Dormancy (휴면): the operator's own policy for accounts nobody has used for a long time.

The statutory duty (former 정보통신망법 §29②, PIPA §39-6) was repealed on 2023-09-15, so this
is off unless the retention file's ``[dormancy]`` turns it on. Seed policy 004 still describes
it: an account unused for ``days`` is separated from the live data, and its holder is told by
e-mail at least ``notice_days`` before.

Notice. Each run e-mails, through a notice campaign, the accounts whose last activity falls
between the previous run's cutoff and today's (``days - notice_days`` days ago). Someone who
comes back moves out of the window; if they go quiet again they pass through a later window
and are told again. The campaigns (their windows, texts, recipients and send times) are the
evidence.

Separation. An account is separated only once its notice window's campaign is at least
``notice_days`` old and it has been inactive for ``days``: its row is copied, encrypted, to
separated storage (``RetainedRecord``, category ``dormancy``, destroyed after ``keep_days``),
then the live row is anonymised as the data map's erasure of that table says. Rows already
anonymised are not found again, so a second run finds nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, ColumnElement, MetaData, RowMapping, Table, select
from sqlalchemy.engine import Engine

from rightsdesk.core.context import current_organisation
from rightsdesk.domain.datamap import Erasure
from rightsdesk.domain.retention import Dormancy, RetentionError
from rightsdesk.extensions import db
from rightsdesk.fulfilment import separated
from rightsdesk.models import NoticeCampaign
from rightsdesk.policy import campaigns
from rightsdesk.retention.operator import PLACEHOLDER, Target, anonymisation
from rightsdesk.retention.runner import Item, RunContext, local_midnight
from rightsdesk.systems.collect import plain_value
from rightsdesk.systems.configured import FulfilmentError, configured_datamap, system_engine

PURPOSE = "dormancy"
RULE = "dormancy"
BASIS = "운영 방침: 장기 미이용 계정 분리 보관 (법정 의무 2023-09-15 폐지)"
BATCH = 500


def dormancy_job(ctx: RunContext) -> list[Item]:
    policy = ctx.schedule.dormancy
    if policy is None or not policy.enabled:
        return []

    datamap = configured_datamap()
    try:
        system = datamap.system(policy.system)
        table = next(t for t in system.tables if t.name == policy.table)
    except (KeyError, StopIteration):
        raise RetentionError(
            f"dormancy names {policy.system}.{policy.table}, which is not in the data map"
        ) from None
    try:
        with system_engine(system) as engine:
            reflected = Table(table.name, MetaData(), autoload_with=engine)
            for column in (policy.last_active, policy.email_column):
                if column not in reflected.c:
                    raise RetentionError(f"{system.name}.{table.name} has no column {column!r}")
            items = [_notice(ctx, policy, engine, reflected)]
            target = Target(system, table, ctx.schedule.rule(table.retention), ())
            items.append(_separate(ctx, policy, engine, reflected, target))
    except FulfilmentError as error:
        raise RetentionError(str(error)) from None
    return [item for item in items if item.count]


# --- notices ---------------------------------------------------------------------------------


def _last_window_end() -> datetime | None:
    newest = db.session.scalars(
        select(NoticeCampaign.source_filter)
        .where(NoticeCampaign.purpose == PURPOSE)
        .order_by(NoticeCampaign.id.desc())
        .limit(1)
    ).first()
    return datetime.fromisoformat(json.loads(newest)["before"]) if newest else None


def _notice(ctx: RunContext, policy: Dormancy, engine: Engine, reflected: Table) -> Item:
    """Count the accounts in this run's notice window; a real run starts the campaign that
    tells them (committed)."""
    before = local_midnight(ctx.today - timedelta(days=policy.days - policy.notice_days))
    after = _last_window_end()
    item = Item(
        "dormancy",
        "dormancy_notice",
        BASIS,
        policy.system,
        policy.table,
        "notice",
        cutoff=before,
    )
    if after is not None and after >= before:
        return item  # this window was told already
    item.count = _window_count(engine, reflected, policy, before, after)
    if ctx.dry_run or not item.count:
        return item
    _start_notice_campaign(ctx, policy, before, after)
    db.session.commit()
    return item


def _window_count(
    engine: Engine, reflected: Table, policy: Dormancy, before: datetime, after: datetime | None
) -> int:
    """Accounts last active in [after, before) with an address not yet anonymised."""
    last_active, email = reflected.c[policy.last_active], reflected.c[policy.email_column]
    query = select(db.func.count()).where(
        last_active < before, email.is_not(None), ~email.startswith(PLACEHOLDER)
    )
    if after is not None:
        query = query.where(last_active >= after)
    with engine.connect() as connection:
        return connection.scalar(query) or 0


def _start_notice_campaign(
    ctx: RunContext, policy: Dormancy, before: datetime, after: datetime | None
) -> None:
    separation_day = ctx.today + timedelta(days=policy.notice_days)
    texts = campaigns.render_texts(
        "dormancy_notice",
        {"days": policy.days, "separation_day": separation_day, "organisation": _organisation()},
    )
    campaigns.start_campaign(
        purpose=PURPOSE,
        texts=texts,
        source=campaigns.IdentitySource(
            policy.system, policy.table, policy.email_column, policy.last_active, before, after
        ),
        actor=ctx.actor,
        now=ctx.now,
    )


def _organisation():

    try:
        return current_organisation()
    except LookupError:
        return None


# --- separation ------------------------------------------------------------------------------


def _separation_cutoff(ctx: RunContext, policy: Dormancy) -> datetime | None:
    """Inactive for ``days``, and inside a window told at least ``notice_days`` ago."""
    told_by = ctx.now - timedelta(days=policy.notice_days)
    windows = db.session.scalars(
        select(NoticeCampaign.source_filter).where(
            NoticeCampaign.purpose == PURPOSE, NoticeCampaign.created_at <= told_by
        )
    ).all()
    if not windows:
        return None
    told = max(datetime.fromisoformat(json.loads(w)["before"]) for w in windows)
    return min(told, local_midnight(ctx.today - timedelta(days=policy.days)))


def _separate(
    ctx: RunContext, policy: Dormancy, engine: Engine, reflected: Table, target: Target
) -> Item:
    """Count the accounts due for separation; a real run moves them (recorded, committed)."""
    cutoff = _separation_cutoff(ctx, policy)
    item = Item("dormancy", RULE, BASIS, policy.system, policy.table, "separate", cutoff=cutoff)
    if cutoff is None:
        return item
    if target.table.erasure == Erasure.DELETE:
        raise RetentionError(
            f"{policy.system}.{policy.table} is erased by deleting rows: a dormant account "
            "must stay as a row to come back to; anonymise it in the data map"
        )
    keys = list(reflected.primary_key.columns)
    values, still_identifying = anonymisation(target, reflected, keys)
    due = (reflected.c[policy.last_active] < cutoff) & still_identifying
    with engine.connect() as connection:
        item.count = connection.scalar(select(db.func.count()).where(due)) or 0
    if ctx.dry_run or not item.count:
        return item
    started = datetime.now(UTC)
    item.count = _move(ctx, policy, engine, reflected, due, values)
    ctx.record(item, started)
    db.session.commit()
    return item


def _move(
    ctx: RunContext,
    policy: Dormancy,
    engine: Engine,
    reflected: Table,
    due: ColumnElement[bool],
    values: dict,
) -> int:
    """Batch by batch, keep the due rows in separated storage, then anonymise them in place;
    return how many moved."""
    keys = list(reflected.primary_key.columns)
    moved = 0
    purge_after = ctx.today + timedelta(days=policy.keep_days)
    while rows := _due_rows(engine, reflected, due, keys):
        _keep(rows, keys, policy, purge_after)  # durable before the live rows change
        with engine.begin() as connection:
            for row in rows:
                connection.execute(
                    reflected.update().where(*(k == row[k.name] for k in keys)).values(values)
                )
        moved += len(rows)
        ctx.renew()
    return moved


def _due_rows(
    engine: Engine, reflected: Table, due: ColumnElement[bool], keys: list[Column]
) -> Sequence[RowMapping]:
    with engine.connect() as connection:
        return (
            connection.execute(select(reflected).where(due).order_by(*keys).limit(BATCH))
            .mappings()
            .all()
        )


def _keep(rows, keys, policy: Dormancy, purge_after) -> None:

    kept = [
        separated.Kept(
            json.dumps([plain_value(r[k.name]) for k in keys], ensure_ascii=False),
            {k: plain_value(v) for k, v in r.items()},
            purge_after,
        )
        for r in rows
    ]
    separated.keep(
        kept,
        system=policy.system,
        table=policy.table,
        category=RULE,
        basis=BASIS,
        request_ref=None,
        now=datetime.now(UTC),
    )
    db.session.commit()
