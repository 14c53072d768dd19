"""Benchmarks of issue #6: the bot measured as a user feels it (`make bench`). Never run by
`make test`; each benchmark writes bench/results/<name>.json."""
