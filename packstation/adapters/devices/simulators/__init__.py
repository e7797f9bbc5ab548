"""Device simulators that speak the real wire protocols over a pty, a FIFO or loopback TCP.

Used by the tests, the demo station and ``packstation devices simulate``. Each simulator
runs a daemon thread serving its end; ``stop()`` (or the context manager) closes it.
"""
