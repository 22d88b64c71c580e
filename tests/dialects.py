"""What an error body looks like in each dialect, for tests that send anything anywhere."""
V2_KEYS = ["description", "error_code", "code"]


def dialect_of(path):
    path = path if path.endswith("/") else path + "/"
    for prefix, dialect in (("/v1/", "v1"), ("/oauth/", "uaa"), ("/login/", "uaa"), ("/v3/", "v3"),
                            ("/organizations/", "usage"), ("/system_report/", "usage"), ("/app_usages/", "usage"),
                            ("/usage_availability/", "usage")):
        if path.startswith(prefix):
            return dialect
    return "v2"


def assert_error_shape(path, body):
    """`body` is an error of the dialect `path` belongs to, and nothing else."""
    dialect = dialect_of(path)
    if dialect == "v1":
        assert (set(body) == {"error"} and isinstance(body["error"], str)) or set(body) == {"resource", "error"} or (
            set(body) == {"errors"} and isinstance(body["errors"], dict)), (path, body)
    elif dialect == "usage":
        assert list(body) == ["error"] and isinstance(body["error"], str), (path, body)
    elif dialect == "uaa":
        assert list(body) == ["error", "error_description"], (path, body)
    elif dialect == "v3":
        assert list(body) == ["errors"] and len(body["errors"]) == 1, (path, body)
        error = body["errors"][0]
        assert list(error) == ["detail", "title", "code"] and error["title"].startswith("CF-"), (path, body)
        assert isinstance(error["detail"], str) and isinstance(error["code"], int), (path, body)
    else:
        assert list(body) == V2_KEYS, (path, body)
        assert body["error_code"].startswith("CF-") or body["error_code"] == "UnknownError", (path, body)
