"""The runtime that wires gateways to MQTT: poll → publish, announce, status; `Bridge` composes it.

May import every package below it (gateway, entities, commands, mqtt); only `pw2mqtt.app` uses it.
"""
