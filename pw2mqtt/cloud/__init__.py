"""Tesla's cloud, needed once to pair a signing key: tokens, the energy-site list, the
`add_authorized_client_request` and the polling of its state.

It may import `pw2mqtt.errors`, `pw2mqtt.gateway.tedapi.answers` (for `ClientState`) and aiohttp
only; the key arrives as PKCS#1 DER bytes. Tokens never appear in a repr, a log line or an error.
"""
