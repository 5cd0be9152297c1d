"""Thin adapters between the core and the outside world (serial, files, servers)."""
