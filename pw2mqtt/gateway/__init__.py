"""The Powerwall gateway: its local API client, response models and snapshots."""
