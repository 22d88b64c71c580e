"""The OpenAPI description of the operator console's files: public, its data comes from the API."""
from ..describe import PUBLIC, STRING, ok
from . import ASSETS


def add_console(ops):
    """The operator console's shell and files (app/api/console), public: its data comes from the API."""
    ops.add("/console/", "get", "The operator console", "console",
            {**ok("Its HTML shell", STRING, content_type="text/html"), **ok("Unchanged (If-None-Match)", status=304)},
            security=PUBLIC, optional=True)
    for name, content_type in ASSETS.items():
        ops.add(f"/console/{name}", "get", f"The console's {name}", "console",
                {**ok("From the package", STRING, content_type=content_type.split(";")[0]),
                 **ok("Unchanged (If-None-Match)", status=304)}, security=PUBLIC, optional=True)
