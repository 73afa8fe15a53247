"""End-to-end fixtures live in tests/conftest.py (`ghost`, `ghost_factory`, `target`);
this package holds tests that drive a real `mitmdump -s ghost.py`."""
