"""The suite. Its folders mirror app/'s packages, so the tests of a module are found where the module is; what
spans every route (the recorded responses, the import graph) sits at the top, beside the shared fixtures
(conftest.py), factories and helpers."""
import pathlib

TESTS = pathlib.Path(__file__).resolve().parent
REPOSITORY = TESTS.parent
