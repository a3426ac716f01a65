"""siteselect: smart site selection for business registration."""

__version__ = "0.1.0"
