def pytest_configure(config):
    config.addinivalue_line("markers", "slow: heavy tests (large models); `make test` skips them")
