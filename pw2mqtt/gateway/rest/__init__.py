"""The gateway's local REST API: the HTTPS client and the models of its JSON and protobuf answers.

Imports the rest of `pw2mqtt.gateway`, `pw2mqtt.errors` and `pw2mqtt.config`; nothing above them.
"""
