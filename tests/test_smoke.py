from tests.factories import EventFactory


def test_lists_an_event(app, client, admin):
    event = EventFactory(type="app.crash")
    body = client.get("/v2/events", headers=admin).get_json()
    assert body["total_results"] == 1
    assert body["resources"][0]["metadata"]["guid"] == event.guid
