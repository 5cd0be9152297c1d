"""battwatch: 12 V and SOS backup battery health monitor for vehicles."""

__version__ = "0.1.0"
