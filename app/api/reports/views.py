"""The Usage Service's endpoints: usage reports over the rollups (reports.py), as JSON or CSV.

Thin views: parameters are checked here, figures come from reports.py, and errors are the Usage
Service's {"error": …} (errors.py).
"""
import csv
import io
import re
from datetime import date

from flask import Blueprint, Response, current_app, request

from app.base.errors import ApiError
from app.identity.tokens import USAGE_AUDIENCES
from app.identity.visibility import reads_usage_reports
from app.usage import reports

from ..auth import current_identity
from ..responses import json_response

bp = Blueprint("usage_reports", __name__)

DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
FORMATS = ("json", "csv")
# A request folds a bounded amount; past that the rollups are still being built and it should retry.
RETRY_AFTER_SECONDS = "60"


def _prepare(org_guid=None, dated=True):
    """Check the caller (the platform's reports, or `org_guid`'s), then the parameters, then fold what
    is pending; return the period asked for (None when the report has none)."""
    if not reads_usage_reports(current_identity(USAGE_AUDIENCES), org_guid):
        raise ApiError("InsufficientScope")
    period = _period() if dated else None
    _wants_csv()  # a bad format is refused before any work
    if not reports.bring_up_to_date():
        raise ApiError("ServiceUnavailable", "The usage rollups are still being built (`flask events fold` builds "
                       "them at once); try again later", headers={"Retry-After": RETRY_AFTER_SECONDS})
    return period


def _date(name):
    text = request.args.get(name)
    if text is None:
        raise ApiError("BadQueryParameter", f"{name} is required, a date as YYYY-MM-DD")
    try:
        if DATE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ApiError("BadQueryParameter", f"{name} must be a date as YYYY-MM-DD")


def _period():
    first, last = _date("start"), _date("end")
    if last < first:
        raise ApiError("BadQueryParameter", "end must not be before start")
    if (last - first).days + 1 > reports.MAX_PERIOD_DAYS:
        raise ApiError("BadQueryParameter", f"end is more than {reports.MAX_PERIOD_DAYS} days after start")
    return reports.Period(first, last)


def _wants_csv():
    """`format=csv|json` decides; without it, an Accept that prefers text/csv to JSON."""
    chosen = request.args.get("format")
    if chosen is not None:
        if chosen not in FORMATS:
            raise ApiError("BadQueryParameter", "format must be json or csv")
        return chosen == "csv"
    return request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _answer(body, rows_of):
    """The report as JSON, or as CSV: a header and the rows `rows_of(body)` flattens it to."""
    if not _wants_csv():
        return json_response(body)
    rows = rows_of(body)
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\r\n")
        writer.writeheader()
        writer.writerows({key: _cell(value) for key, value in row.items()} for row in rows)
    return Response(out.getvalue(), content_type="text/csv; charset=utf-8")


# --- how each report flattens to CSV rows ----------------------------------------------------------
def _task_rows(body):
    return [{"space_guid": space_guid, "space_name": space["space_name"], **summary}
            for space_guid, space in body["spaces"].items() for summary in space["task_summaries"]]


def _calendar_rows(body, monthly="monthly_reports", yearly="yearly_reports"):
    """Monthly rows, then yearly rows (with an empty month)."""
    rows = [{"year": row["year"], "month": row["month"], **_figures(row)} for row in body[monthly]]
    return rows + [{"year": row["year"], "month": None, **_figures(row)} for row in body[yearly]]


def _figures(row):
    return {key: value for key, value in row.items() if key not in ("year", "month")}


def _service_rows(body):
    """Per service, its usages (empty plan columns), then each plan's: monthly rows, then yearly."""
    rows = []
    for reports_key in ("monthly_service_reports", "yearly_service_reports"):
        for service in body[reports_key]:
            owners = [({"service_plan_guid": None, "service_plan_name": None}, service["usages"])]
            owners += [({key: plan[key] for key in ("service_plan_guid", "service_plan_name")}, plan["usages"])
                       for plan in service["plans"]]
            for plan, usages in owners:
                rows += [{"service_guid": service["service_guid"], "service_name": service["service_name"], **plan,
                          "year": usage["year"], "month": usage.get("month"), **_figures(usage)} for usage in usages]
    return rows


# --- the endpoints ---------------------------------------------------------------------------------
@bp.get("/organizations/<org_guid>/app_usages")
def organization_app_usages(org_guid):
    period = _prepare(org_guid)
    return _answer(reports.organization_app_usages(org_guid, period, reports.now_second()),
                   lambda body: body["app_usages"])


@bp.get("/organizations/<org_guid>/task_usages")
def organization_task_usages(org_guid):
    period = _prepare(org_guid)
    return _answer(reports.organization_task_usages(org_guid, period, reports.now_second()), _task_rows)


@bp.get("/organizations/<org_guid>/service_usages")
def organization_service_usages(org_guid):
    period = _prepare(org_guid)
    return _answer(reports.organization_service_usages(org_guid, period, reports.now_second()),
                   lambda body: body["service_usages"])


@bp.get("/system_report/app_usages")
def system_app_usages():
    _prepare(dated=False)
    return _answer(reports.system_app_usages(reports.now_second()), _calendar_rows)


@bp.get("/system_report/task_usages")
def system_task_usages():
    _prepare(dated=False)
    return _answer(reports.system_task_usages(reports.now_second()), _calendar_rows)


@bp.get("/system_report/service_usages")
def system_service_usages():
    _prepare(dated=False)
    return _answer(reports.system_service_usages(reports.now_second()), _service_rows)


@bp.get("/app_usages")
def organizations_app_usages():
    period = _prepare()
    order_by = request.args.get("order_by")
    if order_by is not None and order_by.removeprefix("-") not in reports.ORGANIZATION_ORDERS:
        raise ApiError("BadQueryParameter", "order_by must be [-]total_instance_hours or [-]megabyte_hours")
    return _answer(reports.organizations_app_usages(period, reports.now_second(), order_by),
                   lambda body: body["Organizations"])


@bp.get("/usage_availability")
def usage_availability():
    _prepare(dated=False)
    body = reports.usage_availability(reports.now_second(), current_app.config["USAGE_SETTLING_SECONDS"])
    return _answer(body, lambda body: [body])
