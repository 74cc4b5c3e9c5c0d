"""soekpi: KPIs of a digital-transformation programme, measured and reported per fiscal cycle."""

__version__ = "0.1.0"
