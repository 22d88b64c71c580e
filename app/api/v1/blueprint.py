"""The v1 dialect's blueprint, which its views register their routes on."""
from flask import Blueprint

bp = Blueprint("v1", __name__, url_prefix="/v1")
