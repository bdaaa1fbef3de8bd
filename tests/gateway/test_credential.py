"""The credential fingerprint a saved session carries: it tells credentials apart, and one
process salts with one salt so that scrypt runs once per credential."""

from __future__ import annotations

from pw2mqtt.gateway.state import credential_hash, credential_matches


def test_a_saved_session_is_kept_only_for_the_credential_it_was_obtained_with() -> None:
    stored = credential_hash("customer", "Pw2MqttSim")
    assert stored.startswith("scrypt$")
    assert "Pw2MqttSim" not in stored
    assert credential_matches(stored, "customer", "Pw2MqttSim")
    assert not credential_matches(stored, "customer", "another")
    assert not credential_matches(stored, "installer", "Pw2MqttSim")
    assert not credential_matches(None, "customer", "Pw2MqttSim")
    assert not credential_matches("scrypt$zz$00", "customer", "Pw2MqttSim")


def test_a_stored_salt_of_another_process_still_verifies() -> None:
    other = credential_hash("customer", "Pw2MqttSim", salt=bytes(range(16)))
    assert other != credential_hash("customer", "Pw2MqttSim")
    assert credential_matches(other, "customer", "Pw2MqttSim")


def test_one_process_gives_one_credential_one_fingerprint() -> None:
    """One salt per process: a fleet sharing a password is worked out once (and cached)."""
    fingerprints = {credential_hash("customer", "Pw2MqttSim") for _ in range(100)}
    assert len(fingerprints) == 1
