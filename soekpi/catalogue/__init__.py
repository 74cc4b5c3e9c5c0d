"""The KPI catalogue: YAML → typed, located, validated objects."""

from soekpi.catalogue.model import Catalogue
from soekpi.catalogue.validate import load_catalogue

__all__ = ["Catalogue", "load_catalogue"]
