"""Test support: a real Ghost process, local target servers, free ports."""
