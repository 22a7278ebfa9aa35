"""Exporter catalog, metric contracts and the tools that check expositions against them."""
