"""TEDAPI v1r, signed local control of a gateway: keys, signing, request bytes and answers; no I/O
but the key file. It may import pw2mqtt.errors, pw2mqtt.gateway._proto and cryptography only."""
