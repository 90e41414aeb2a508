"""The tests' helpers, by what they help with: ``project`` (the project run as a user does) and ``data``
(tiny params, images and in-memory training). Fixtures stay in conftest.py."""
