"""TEDAPI v1r, signed local control of a gateway: keys, signing, request bytes and answers, and
`transport`, which sends them over the REST client's connection. The other modules do no I/O but
the key file and import only pw2mqtt.errors, pw2mqtt.gateway._proto and cryptography."""
