"""The catalogue of known audit event types of both vocabularies, as data (being split into modules)."""
from .cloud_controller import *  # noqa: F401,F403
