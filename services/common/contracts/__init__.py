"""JSON Schemas of every message on the event log: the envelope and each type's data."""
