"""The v3 dialect's blueprint, which its views register their routes on."""
from flask import Blueprint

bp = Blueprint("v3", __name__, url_prefix="/v3")
