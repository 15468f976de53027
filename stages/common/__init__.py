"""Plumbing every stage shares: params, atomic I/O, tracking, registries, rejected rows."""
