"""Generators of the reference docs (docs/topics.md, docs/configuration.md) from the code.

They read the entity catalogue, the topics and the settings model; nothing imports them.
"""
