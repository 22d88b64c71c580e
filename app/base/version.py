"""What is running: the package's version and the git commit it was built from."""
import os
import subprocess
from functools import cache
from importlib.metadata import PackageNotFoundError, version

PACKAGE = "cf-events"
# The checkout: app/base/ is two levels below it.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@cache
def package_version():
    try:
        return version(PACKAGE)
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0.0.0"


@cache
def commit():
    """BUILD_COMMIT when the deployment sets it (an image has no .git), else the checkout's HEAD, else ""."""
    if os.environ.get("BUILD_COMMIT"):
        return os.environ["BUILD_COMMIT"]
    try:
        done = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                              timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def build():
    """The package version with the commit as semver build metadata: "0.1.0+3f2c9a1b7d4e"."""
    return package_version() + (f"+{commit()}" if commit() else "")


def version_number():
    """The version as CC's integer `version` field (typed clients parse an integer there):
    MAJOR·10000 + MINOR·100 + PATCH, so 0.1.0 is 100 and 1.2.3 is 10203."""
    parts = [int(part) if part.isdigit() else 0 for part in package_version().split(".")[:3]]
    major, minor, patch = parts + [0] * (3 - len(parts))
    return major * 10000 + minor * 100 + patch
