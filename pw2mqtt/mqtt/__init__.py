"""The MQTT side of the bridge."""
