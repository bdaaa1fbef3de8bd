"""What is published and controllable: the entity catalogue and the per-device entities.

The one source of state topics, discovery, commands and generated docs; imports `pw2mqtt.gateway`.
"""
