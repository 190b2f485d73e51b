"""Suite-wide pytest settings."""


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: heavy tests; `make test` skips them, `make test-all` runs them")
