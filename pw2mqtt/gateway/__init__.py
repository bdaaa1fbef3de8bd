"""The Powerwall gateway as a client: transports (REST, signed TEDAPI), typed snapshots, polling.

Imports only `pw2mqtt.errors`, `pw2mqtt.config` and `pw2mqtt.backoff`; nothing here knows MQTT.
"""
