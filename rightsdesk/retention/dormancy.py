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
``notice_days`` old, it has been inactive for ``days``, and its own notice was delivered (sent,
not bounced or failed) at least ``notice_days`` earlier. An account whose notice did not go out
is held (counted as ``dormancy_held``) and told again by a new campaign (at most daily for a
failed one), and its period runs from that delivery. Separation: its row is copied, encrypted, to
separated storage (``RetainedRecord``, category ``dormancy``, destroyed after ``keep_days``),
then the live row is anonymised as the data map's erasure of that table says. Rows already
anonymised are not found again, so a second run finds nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, ColumnElement, MetaData, RowMapping, Table, select, tuple_
from sqlalchemy.engine import Engine

from rightsdesk.core.context import current_organisation
from rightsdesk.domain.datamap import Erasure
from rightsdesk.domain.identity import InvalidEmail, normalise_email
from rightsdesk.domain.retention import Dormancy, RetentionError
from rightsdesk.extensions import db
from rightsdesk.fulfilment import separated
from rightsdesk.models import CampaignRecipient, NoticeCampaign
from rightsdesk.policy import campaigns
from rightsdesk.retention.operator import PLACEHOLDER, Target, anonymisation
from rightsdesk.retention.runner import Item, RunContext, local_midnight
from rightsdesk.systems.collect import plain_value
from rightsdesk.systems.configured import FulfilmentError, configured_datamap, system_engine

PURPOSE = "dormancy"
RULE = "dormancy"
HELD = "dormancy_held"  # due, but the notice was not delivered early enough: not separated
RETRY_EVERY = timedelta(days=1)  # an undelivered notice is sent again at most this often
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
            items += _separate(ctx, policy, engine, reflected, target)
    except FulfilmentError as error:
        raise RetentionError(str(error)) from None
    return [item for item in items if item.count]


# --- notices ---------------------------------------------------------------------------------


def _last_window_end() -> datetime | None:
    newest = db.session.scalars(
        select(NoticeCampaign.source_filter)
        .where(NoticeCampaign.purpose == PURPOSE, NoticeCampaign.source_filter.is_not(None))
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
            NoticeCampaign.purpose == PURPOSE,
            NoticeCampaign.created_at <= told_by,
            NoticeCampaign.source_filter.is_not(None),  # not a repeated notice to a list
        )
    ).all()
    if not windows:
        return None
    told = max(datetime.fromisoformat(json.loads(w)["before"]) for w in windows)
    return min(told, local_midnight(ctx.today - timedelta(days=policy.days)))


def _separate(
    ctx: RunContext, policy: Dormancy, engine: Engine, reflected: Table, target: Target
) -> list[Item]:
    """The accounts due for separation: moved when their notice was delivered at least
    ``notice_days`` earlier, held (and told again) when it was not; recorded, committed."""
    cutoff = _separation_cutoff(ctx, policy)
    item = Item("dormancy", RULE, BASIS, policy.system, policy.table, "separate", cutoff=cutoff)
    held = Item("dormancy", HELD, BASIS, policy.system, policy.table, "held", cutoff=cutoff)
    if cutoff is None:
        return [item, held]
    if target.table.erasure == Erasure.DELETE:
        raise RetentionError(
            f"{policy.system}.{policy.table} is erased by deleting rows: a dormant account "
            "must stay as a row to come back to; anonymise it in the data map"
        )
    keys = list(reflected.primary_key.columns)
    values, still_identifying = anonymisation(target, reflected, keys)
    due = (reflected.c[policy.last_active] < cutoff) & still_identifying
    started = datetime.now(UTC)
    move = Move(ctx, policy, engine, reflected, due, values)
    item.count, undelivered = move.run()
    held.count = len(undelivered)
    if ctx.dry_run:
        return [item, held]
    if item.count:
        ctx.record(item, started)
    if undelivered:
        _tell_again(ctx, policy, undelivered)
    db.session.commit()
    return [item, held]


@dataclass
class Move:
    """Batch by batch, in key order: keep the due rows whose notice was delivered in separated
    storage, then anonymise them in place; the others stay live, their addresses returned."""

    ctx: RunContext
    policy: Dormancy
    engine: Engine
    reflected: Table
    due: ColumnElement[bool]
    values: dict

    def run(self) -> tuple[int, list[str]]:
        keys = list(self.reflected.primary_key.columns)
        moved, undelivered, after = 0, [], None
        while rows := _due_rows(self.engine, self.reflected, self.due, keys, after):
            after = [rows[-1][k.name] for k in keys]
            told = _delivered([self._address(r) for r in rows], self.policy, self.ctx.now)
            ready = [r for r in rows if self._address(r) in told]
            undelivered += [a for a in map(self._address, rows) if a and a not in told]
            if ready and not self.ctx.dry_run:
                self._move(ready, keys)
            moved += len(ready)
            self.ctx.renew()
        return moved, undelivered

    def _address(self, row: RowMapping) -> str | None:
        return _normalised(row[self.policy.email_column])

    def _move(self, rows: Sequence[RowMapping], keys: list[Column]) -> None:
        purge_after = self.ctx.today + timedelta(days=self.policy.keep_days)
        _keep(rows, keys, self.policy, purge_after)  # durable before the live rows change
        with self.engine.begin() as connection:
            for row in rows:
                connection.execute(
                    self.reflected.update()
                    .where(*(k == row[k.name] for k in keys))
                    .values(self.values)
                )


def _normalised(address: object) -> str | None:
    if not isinstance(address, str):
        return None
    try:
        return normalise_email(address)
    except InvalidEmail:
        return None


def _delivered(addresses: Sequence[str | None], policy: Dormancy, now: datetime) -> set[str]:
    """The addresses whose dormancy notice went out (sent, not bounced or failed) at least
    ``notice_days`` ago."""
    wanted = [a for a in addresses if a]
    if not wanted:
        return set()
    told_by = now - timedelta(days=policy.notice_days)
    r = CampaignRecipient
    return set(
        db.session.scalars(
            select(r.email)
            .join(NoticeCampaign, NoticeCampaign.id == r.campaign_id)
            .where(
                NoticeCampaign.purpose == PURPOSE,
                r.email.in_(wanted),
                r.state == campaigns.SENT,
                r.sent_at <= told_by,
            )
        )
    )


def _tell_again(ctx: RunContext, policy: Dormancy, addresses: list[str]) -> None:
    """A new notice for held accounts whose last one failed or bounced (at most once per
    :data:`RETRY_EVERY`), or who were never told; not for a notice still on its way or sent
    and waiting out its period."""
    r = CampaignRecipient
    recent = ctx.now - RETRY_EVERY
    waiting = set(
        db.session.scalars(
            select(r.email)
            .join(NoticeCampaign, NoticeCampaign.id == r.campaign_id)
            .where(
                NoticeCampaign.purpose == PURPOSE,
                r.email.in_(addresses),
                (r.state.in_((campaigns.PENDING, campaigns.CLAIMED, campaigns.SENT)))
                | (NoticeCampaign.created_at > recent),
            )
        )
    )
    again = sorted(set(addresses) - waiting)
    if not again:
        return
    separation_day = ctx.today + timedelta(days=policy.notice_days)
    texts = campaigns.render_texts(
        "dormancy_notice",
        {"days": policy.days, "separation_day": separation_day, "organisation": _organisation()},
    )
    campaigns.start_campaign(
        purpose=PURPOSE, texts=texts, recipients=again, actor=ctx.actor, now=ctx.now
    )


def _due_rows(
    engine: Engine,
    reflected: Table,
    due: ColumnElement[bool],
    keys: list[Column],
    after: list | None,
) -> Sequence[RowMapping]:
    query = select(reflected).where(due)
    if after is not None:
        query = query.where(tuple_(*keys) > tuple_(*after))
    with engine.connect() as connection:
        return connection.execute(query.order_by(*keys).limit(BATCH)).mappings().all()


def _keep(rows, keys, policy: Dormancy, purge_after) -> None:
    kept = [
        separated.Kept(
            json.dumps([plain_value(r[k.name]) for k in keys], ensure_ascii=False),
            {k: plain_value(v) for k, v in r.items()},
            purge_after,
            _lookup(r[policy.email_column]),
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


def _lookup(address: object) -> str | None:
    email = _normalised(address)
    return separated.lookup_hash(email) if email else None
