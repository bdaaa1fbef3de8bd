"""The MQTT side: the reconnecting connection, topic names, discovery payloads, change tracking.

Imports `pw2mqtt.entities` (what to announce) and `pw2mqtt.backoff`; never the gateway client.
"""
