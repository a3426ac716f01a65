"""The HTTP service."""

from api.memory import limit_heaps

limit_heaps()  # before the libraries the service loads start threads (see api/memory.py)
