"""Bridge a Tesla Powerwall gateway's local HTTPS API to MQTT."""

__version__ = "0.1.0"
