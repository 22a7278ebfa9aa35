"""The log pipeline: Loki's configuration and the log collector's."""
