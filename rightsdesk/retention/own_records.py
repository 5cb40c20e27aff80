"""Retention of rightsdesk's own records: unconfirmed requests, offered files, closed
requests, separately stored rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import (
    ColumnElement,
    and_,
    delete,
    func,
    select,
)

from rightsdesk.core.uploads import delete_upload
from rightsdesk.domain.lifecycle import TERMINAL
from rightsdesk.extensions import db
from rightsdesk.models import (
    DestructionRecord,
    Download,
    Request,
    RetainedRecord,
)
from rightsdesk.requests.downloads import purge_expired
from rightsdesk.requests.intake import expire_unverified, purge_personal_data
from rightsdesk.retention.runner import OWN_SYSTEM, REQUEST_BATCH, Item, RunContext, local_midnight


def expire_unverified_job(ctx: RunContext) -> list[Item]:

    days = int(current_app.config["UNVERIFIED_EXPIRY_DAYS"])
    item = Item(
        "expire-unverified",
        "unverified_request",
        f"개인정보 보호법 §21①: 확인되지 않은 요구, {days}일 경과",
        OWN_SYSTEM,
        "requests",
        "anonymise",
        cutoff=ctx.now - timedelta(days=days),
    )
    started = datetime.now(UTC)
    report = expire_unverified(now=ctx.now, dry_run=ctx.dry_run)
    item.count = len(report.expired)
    if item.count and not ctx.dry_run:
        ctx.record(item, started)
        db.session.commit()
    return [item] if item.count else []


def purge_downloads_job(ctx: RunContext) -> list[Item]:

    item = Item(
        "purge-downloads",
        "download",
        "운영 방침: 정보주체에게 제공한 파일, 제공 기간 경과",
        OWN_SYSTEM,
        "downloads",
        "delete",
        cutoff=ctx.now,
    )
    started = datetime.now(UTC)
    if ctx.dry_run:
        item.count = db.session.scalar(
            select(func.count())
            .select_from(Download)
            .where(Download.deleted_at.is_(None), Download.expires_at <= ctx.now)
        )
    else:
        item.count = purge_expired(now=ctx.now)
        if item.count:
            ctx.record(item, started)
            db.session.commit()
    return [item] if item.count else []


def purge_requests_job(ctx: RunContext) -> list[Item]:
    """Closed requests past the ``request_record`` rule lose their personal data and proofs;
    the request row (kind, dates, outcome) stays for statistics, the audit chain untouched."""
    rule = ctx.schedule.rule("request_record")
    cutoff = local_midnight(ctx.schedule.cutoff(rule.code, ctx.today))
    due = and_(
        Request.status.in_(sorted(TERMINAL)),
        Request.closed_at.is_not(None),
        Request.closed_at < cutoff,
        Request.personal_data_purged_at.is_(None),
    )
    requests = Item(
        "purge-requests", rule.code, rule.basis, OWN_SYSTEM, "requests", "anonymise", cutoff=cutoff
    )
    files = Item(
        "purge-requests", rule.code, rule.basis, OWN_SYSTEM, "uploads", "delete", cutoff=cutoff
    )
    total = db.session.scalar(select(func.count()).select_from(Request).where(due))
    if ctx.dry_run or not total:
        requests.count = total
        return [requests] if total else []
    _purge_requests(ctx, due, total, requests, files)
    return [item for item in (requests, files) if item.count]


def _purge_requests(
    ctx: RunContext, due: ColumnElement[bool], total: int, requests: Item, files: Item
) -> None:
    """Purge the due requests batch by batch, one commit per batch with the run's records;
    their files are deleted only after that commit."""
    ctx.reporter.start("rightsdesk.requests", total)
    started = datetime.now(UTC)
    records: dict[str, DestructionRecord] = {}
    try:
        while batch := db.session.scalars(
            select(Request).where(due).order_by(Request.id).limit(REQUEST_BATCH)
        ).all():
            names = _purge_batch(batch, ctx.now)
            requests.count += len(batch)
            files.count += len(names)
            _bump(ctx, records, requests, started, len(batch))
            _bump(ctx, records, files, started, len(names))
            db.session.commit()  # the purge and its record together
            for name in names:  # only once the database no longer points at them
                delete_upload(name)
            ctx.reporter.advance(len(batch))
            ctx.renew()
    finally:
        ctx.reporter.finish()


def _purge_batch(batch: Sequence[Request], now: datetime) -> list[str]:
    """Purge each request's personal data and expire its downloads: the files to delete."""
    names: list[str] = []
    for request in batch:
        names += [n for n in purge_personal_data(request, now=now) if n]
        names += _expire_downloads(request, now)
    return names


def _expire_downloads(request: Request, now: datetime) -> list[str]:
    names = []
    for download in request.downloads:
        if download.deleted_at is None:
            download.deleted_at = now
            names.append(download.file)
    return names


def _bump(ctx: RunContext, records: dict, item: Item, started: datetime, count: int) -> None:
    """Add ``count`` to the run's record of ``item`` (created on first use), in the session."""
    if not count:
        return
    row = records.get(item.table)
    if row is None:
        records[item.table] = ctx.record(item, started)
        records[item.table].count = count
    else:
        row.count += count
        row.finished_at = datetime.now(UTC)


def purge_separated_job(ctx: RunContext) -> list[Item]:
    """Separately stored rows past their purge-after day (operator's zone) are destroyed."""
    due = RetainedRecord.purge_after < ctx.today
    items = _separated_groups(due)
    if ctx.dry_run or not items:
        return items
    started = datetime.now(UTC)
    for item in items:
        _purge_separated_group(ctx, item, due, started)
    return [item for item in items if item.count]


def _separated_groups(due: ColumnElement[bool]) -> list[Item]:
    """One item per system, table, category and basis with rows due, with their count."""
    groups = db.session.execute(
        select(
            RetainedRecord.system,
            RetainedRecord.table_name,
            RetainedRecord.category,
            RetainedRecord.basis,
            func.count(),
        )
        .where(due)
        .group_by(
            RetainedRecord.system,
            RetainedRecord.table_name,
            RetainedRecord.category,
            RetainedRecord.basis,
        )
        .order_by(RetainedRecord.system, RetainedRecord.table_name, RetainedRecord.category)
    ).all()
    return [
        Item("purge-separated", category, basis, system, f"retained:{table}", "delete", count)
        for system, table, category, basis, count in groups
    ]


def _purge_separated_group(
    ctx: RunContext, item: Item, due: ColumnElement[bool], started: datetime
) -> None:
    """Delete one group's due rows; ``item.count`` becomes the number actually deleted."""
    item.count = 0
    table = item.table.removeprefix("retained:")
    where = and_(
        due,
        RetainedRecord.system == item.system,
        RetainedRecord.table_name == table,
        RetainedRecord.category == item.rule,
        RetainedRecord.basis == item.basis,
    )
    ctx.reporter.start(
        f"separated {item.system}.{table}",
        db.session.scalar(select(func.count()).select_from(RetainedRecord).where(where)),
    )
    try:
        _delete_separated(ctx, item, where, started)
    finally:
        ctx.reporter.finish()


def _delete_separated(
    ctx: RunContext, item: Item, where: ColumnElement[bool], started: datetime
) -> None:
    """Delete in batches, each committed with the run's record of the item."""
    records: dict = {}
    while ids := db.session.scalars(
        select(RetainedRecord.id).where(where).order_by(RetainedRecord.id).limit(ctx.batch_size)
    ).all():
        gone = db.session.execute(delete(RetainedRecord).where(RetainedRecord.id.in_(ids))).rowcount
        item.count += gone
        _bump(ctx, records, item, started, gone)
        db.session.commit()
        ctx.reporter.advance(gone)
        ctx.renew()
