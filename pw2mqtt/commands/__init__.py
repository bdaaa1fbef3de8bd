"""MQTT commands: pure parsing, the service that guards and answers them, the executor that writes
(over REST in `rest_writes`, over signed local control in `signed` and `signed_writes`).

Imports `pw2mqtt.entities`, `pw2mqtt.gateway` and `pw2mqtt.mqtt`; never `pw2mqtt.bridge`.
"""
