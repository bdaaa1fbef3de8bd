"""What is published and controllable: the entity catalogue, per-device entities, conversions.

The one source of state topics, discovery, commands and generated docs; imports `pw2mqtt.gateway`.
"""
