"""Typed stack settings: the one model every renderer and component receives."""

from settings.errors import SettingsError
from settings.loader import LoadedStack, load_settings, parse_settings
from settings.model import StackSettings

__all__ = ["LoadedStack", "SettingsError", "StackSettings", "load_settings", "parse_settings"]
