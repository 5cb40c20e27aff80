"""Reports for every member of staff: requests per month, timeliness, what is overdue now, and
the request register as CSV (without the subjects' names or addresses)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import Response, render_template, request, stream_with_context
from flask_babel import gettext as _
from markupsafe import Markup

from rightsdesk.admin.blueprint import ALL_STAFF, bp, roles
from rightsdesk.core.context import settings
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.lifecycle import Status
from rightsdesk.i18n import kind_label
from rightsdesk.models import Channel
from rightsdesk.reports import charts
from rightsdesk.reports.figures import (
    MonthFigures,
    monthly_figures,
    occurring,
    overdue,
    parse_months,
    register_csv,
)


def _today() -> date:
    return datetime.now(UTC).astimezone(settings().tz).date()


@bp.get("/reports")
@roles(*ALL_STAFF)
def reports():
    months = parse_months(request.args.get("months"))
    today = _today()
    figures = monthly_figures(today, months)
    kinds = occurring(figures, "by_kind", RequestKind)
    return render_template(
        "admin/reports.html",
        months=months,
        today=today,
        figures=figures,
        kinds=kinds,
        statuses=occurring(figures, "by_status", Status),
        channels=occurring(figures, "by_channel", Channel),
        overdue=overdue(today),
        volume_chart=_volume_chart(figures, kinds),
        timeliness_chart=_timeliness_chart(figures),
    )


def _volume_chart(figures: list[MonthFigures], kinds: list[RequestKind]) -> Markup:
    series = [
        charts.Series(kind_label(kind), [month.by_kind.get(kind, 0) for month in figures])
        for kind in kinds
    ]
    return charts.stacked_bars(
        [month.label for month in figures],
        series,
        title=_("Requests received per month, by kind"),
        chart_id="chart-volume",
    )


def _timeliness_chart(figures: list[MonthFigures]) -> Markup:
    return charts.rate_bars(
        [month.label for month in figures],
        [month.timeliness.rate for month in figures],
        title=_("Answered by the legal due date, per month of receipt"),
        chart_id="chart-on-time",
        describe=_("Months without an answered request have no bar."),
    )


@bp.get("/reports/register.csv")
@roles(*ALL_STAFF)
def reports_register():
    filename = f"request-register-{_today().isoformat()}.csv"
    return Response(
        stream_with_context(register_csv()),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f"attachment; filename={filename}",
            "Cache-Control": "no-store",
        },
    )
