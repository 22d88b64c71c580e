"""The OpenAPI description of the Usage Service's dialect: each report's parameters and its figures, as JSON
or CSV."""
from datetime import date

from app.base.fields import date_pattern
from app.usage import reports

from ..describe import BOOLEAN, DATE_TIME, INTEGER, JSON, NUMBER, STRING, array, nullable, obj, query
from . import views as usage_reports

# A rule between two parameters, which no schema can say.
PERIOD_RULE = f"not before start, and at most {reports.MAX_PERIOD_DAYS} days from it"


def add_usage_reports(ops, components):
    # Any calendar day (usage_reports._date: what date.fromisoformat reads of YYYY-MM-DD).
    day = {"type": "string", "format": "date", "pattern": f"^{date_pattern(date.min.year, date.max.year)}$"}
    dated = [query("start", day, "The period's first day, YYYY-MM-DD (UTC)", required=True),
             query("end", day, f"Its last day, included: {PERIOD_RULE}", required=True)]
    formats = query("format", {"type": "string", "enum": list(usage_reports.FORMATS)},
                    "json (default) or csv; without it, an Accept that prefers text/csv gives CSV")
    text = nullable(STRING)
    period = {"period_start": DATE_TIME, "period_end": DATE_TIME}
    app_usage = obj({"space_guid": STRING, "space_name": text, "app_guid": STRING, "app_name": text,
                     "parent_application_guid": text, "parent_application_name": text, "process_type": text,
                     "instance_count": INTEGER, "memory_in_mb_per_instance": INTEGER, "duration_in_seconds": INTEGER})
    task_summary = obj({"parent_application_guid": text, "parent_application_name": text,
                        "memory_in_mb_per_instance": INTEGER, "task_count_for_range": INTEGER,
                        "concurrent_task_count_for_range": INTEGER, "total_duration_in_seconds_for_range": INTEGER})
    service_usage = obj({"deleted": BOOLEAN, "duration_in_seconds": INTEGER, "service_guid": text,
                         "service_instance_creation": nullable(DATE_TIME),
                         "service_instance_deletion": nullable(DATE_TIME), "service_instance_guid": STRING,
                         "service_instance_name": text, "service_instance_type": text, "service_name": text,
                         "service_plan_guid": text, "service_plan_name": text, "space_guid": STRING,
                         "space_name": text})
    organization = {"organization_guid": STRING, **period}
    bodies = {
        "app_usages": obj({**organization, "app_usages": array(app_usage)}),
        "task_usages": obj({**organization, "spaces": {"type": "object", "additionalProperties": obj({
            "space_name": text, "task_summaries": array(task_summary)})}}),
        "service_usages": obj({**organization, "service_usages": array(service_usage)}),
    }
    for report, body in bodies.items():
        name = "Organization" + "".join(part.capitalize() for part in report.split("_"))
        ops.add(f"/organizations/{{org_guid}}/{report}", "get", f"An organization's {report.replace('_', ' ')}",
                "usage reports", report_ok(components.schema(name, json_schema=body)),
                parameters=[*dated, formats], errors=(503,))

    def calendar(figures, monthly="monthly_reports", yearly="yearly_reports"):
        month = obj({"month": INTEGER, "year": INTEGER, **figures})
        year = obj({"year": INTEGER, **figures})
        return obj({"report_time": STRING, monthly: array(month), yearly: array(year)})

    service_figures = {"duration_in_hours": NUMBER, "average_instances": NUMBER, "maximum_instances": INTEGER}

    def service_reports(usage_row):
        plan = obj({"service_plan_name": text, "service_plan_guid": STRING, "usages": array(usage_row)})
        return array(obj({"service_name": text, "service_guid": STRING, "usages": array(usage_row),
                          "plans": array(plan)}))

    systems = {
        "app_usages": calendar({"average_app_instances": NUMBER, "maximum_app_instances": INTEGER,
                                "app_instance_hours": NUMBER, "megabyte_hours": NUMBER}),
        "task_usages": calendar({"total_task_runs": INTEGER, "maximum_concurrent_tasks": INTEGER,
                                 "task_hours": NUMBER, "megabyte_hours": NUMBER}),
        "service_usages": obj({"report_time": STRING,
                               "monthly_service_reports": service_reports(
                                   obj({"month": INTEGER, "year": INTEGER, **service_figures})),
                               "yearly_service_reports": service_reports(obj({"year": INTEGER, **service_figures}))}),
    }
    for report, body in systems.items():
        name = "System" + "".join(part.capitalize() for part in report.split("_"))
        ops.add(f"/system_report/{report}", "get", f"The platform's monthly and yearly {report.replace('_', ' ')}",
                "usage reports", report_ok(components.schema(name, json_schema=body)), parameters=[formats],
                errors=(503,))
    orders = [f"{sign}{name}" for name in reports.ORGANIZATION_ORDERS for sign in ("", "-")]
    summary = obj({**period, "Organizations": array(obj({"guid": STRING, "total_instance_hours": NUMBER,
                                                         "megabyte_hours": NUMBER}))})
    ops.add("/app_usages", "get", "Each organization's instance-hours and MB-hours", "usage reports",
            report_ok(components.schema("OrganizationsAppUsages", json_schema=summary)), errors=(503,),
            parameters=[*dated, query("order_by", {"type": "string", "enum": orders}, "By guid when absent"),
                        formats])
    ops.add("/usage_availability", "get", "The last whole day whose figures are final", "usage reports",
            report_ok(components.schema("UsageAvailability", json_schema=obj({"date": nullable(
                {"type": "string", "format": "date"})}))), parameters=[formats], errors=(503,))


def report_ok(schema):
    return {"200": {"description": "The report, as JSON, or as CSV (format=csv)",
                    "content": {JSON: {"schema": schema}, "text/csv": {"schema": STRING}}}}
