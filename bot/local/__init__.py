"""The local stack: what `make run` starts on one machine, and stand-ins for remote services."""
