"""v3 and v2 read one store: on random stores and random filters both dialects can say, /v3/audit_events
and /v2/events return the same events, in corresponding order, with the same totals, page by page."""
import random
from datetime import timedelta

from app.identity.roles import grant
from app.identity.tokens import READ
from tests.factories import BASE_TIME, EventFactory

TYPES = ("audit.app.update", "app.crash", "audit.app.start", "audit.space.create")
SPACES = {"s1": "o1", "s2": "o1", "s3": "o2"}
APPS = ("a1", "a2", "a3")


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def random_store(rnd, count=60):
    """Events at distinct instants over two days (many within one second of another), written in random order."""
    offsets = rnd.sample(range(0, 2 * 86400 * 4), count)  # quarter seconds
    for n, offset in enumerate(offsets):
        space = rnd.choice([*SPACES, None])
        EventFactory(guid=f"e{n:03d}", type=rnd.choice(TYPES), actee=rnd.choice(APPS), space_guid=space,
                     organization_guid=SPACES.get(space) if space or rnd.random() < 0.5 else None,
                     timestamp=BASE_TIME + timedelta(microseconds=offset * 250_000))


def random_filters(rnd):
    """(v3 parameters, v2 q clauses) meaning the same thing."""
    v3, v2 = [], []
    if rnd.random() < 0.4:
        types = rnd.sample(TYPES, rnd.randint(1, 2))
        v3.append(("types", ",".join(types)))
        v2.append(f"type IN {','.join(types)}")
    for v3_key, v2_key, values in (("target_guids", "actee", APPS), ("space_guids", "space_guid", list(SPACES)),
                                   ("organization_guids", "organization_guid", ["o1", "o2"])):
        if rnd.random() < 0.25:
            chosen = rnd.sample(values, rnd.randint(1, 2))
            v3.append((v3_key, ",".join(chosen)))
            v2.append(f"{v2_key} IN {','.join(chosen)}")
    moment = BASE_TIME + timedelta(seconds=rnd.randrange(0, 2 * 86400))
    for operator, symbol in (("gte", ">="), ("gt", ">"), ("lt", "<"), ("lte", "<=")):
        if rnd.random() < 0.2:
            at = moment + timedelta(hours=rnd.choice([0, 6, 30])) if operator in ("lt", "lte") else moment
            v3.append((f"created_ats[{operator}]", iso(at)))
            v2.append(f"timestamp{symbol}{iso(at)}")
    if rnd.random() < 0.1:
        seconds = [iso(BASE_TIME + timedelta(seconds=rnd.randrange(0, 3000))) for _ in range(2)]
        v3.append(("created_ats", ",".join(seconds)))
        v2.append(f"timestamp IN {','.join(seconds)}")
    return v3, v2


def v3_walk(client, headers, parameters, per_page, descending):
    order = "-created_at" if descending else "created_at"
    body = client.get("/v3/audit_events", headers=headers, query_string=[
        *parameters, ("per_page", per_page), ("order_by", order)]).get_json()
    total, guids = body["pagination"]["total_results"], []
    while True:
        guids += [resource["guid"] for resource in body["resources"]]
        if not body["pagination"]["next"]:
            return total, guids
        body = client.get(body["pagination"]["next"]["href"], headers=headers).get_json()


def v2_walk(client, headers, clauses, per_page, descending):
    body = client.get("/v2/events", headers=headers, query_string=[
        *(("q", clause) for clause in clauses), ("results-per-page", per_page),
        ("order-direction", "desc" if descending else "asc")]).get_json()
    total, guids = body["total_results"], []
    while True:
        guids += [resource["metadata"]["guid"] for resource in body["resources"]]
        if not body["next_url"]:
            return total, guids
        body = client.get(body["next_url"], headers=headers).get_json()


def test_v3_and_v2_list_the_same_events(client, admin, auth):
    rnd = random.Random(20261202)
    random_store(rnd)
    grant("space", "s1", "developer", "reader")
    grant("organization", "o2", "auditor", "reader")
    readers = [admin, auth(READ, user_id="reader")]
    compared = nonempty = 0
    for _ in range(25):
        v3, v2 = random_filters(rnd)
        per_page, descending = rnd.choice([4, 9, 50]), rnd.random() < 0.5
        for headers in readers:
            from_v3 = v3_walk(client, headers, v3, per_page, descending)
            from_v2 = v2_walk(client, headers, v2, per_page, descending)
            assert from_v3 == from_v2, (v3, v2, per_page, descending)
            assert len(set(from_v3[1])) == len(from_v3[1]) == from_v3[0]
            compared += 1
            nonempty += bool(from_v3[0])
    assert nonempty > compared // 2  # most comparisons had events to compare


def test_v3_default_order_is_insertion_order_whatever_the_timestamps(client, admin):
    for n, seconds in enumerate([30, 10, 20]):
        EventFactory(guid=f"late-{n}", timestamp=BASE_TIME + timedelta(seconds=seconds))
    body = client.get("/v3/audit_events", headers=admin).get_json()
    assert [resource["guid"] for resource in body["resources"]] == ["late-0", "late-1", "late-2"]
    by_time = client.get("/v3/audit_events?order_by=created_at", headers=admin).get_json()
    assert [resource["guid"] for resource in by_time["resources"]] == ["late-1", "late-2", "late-0"]
