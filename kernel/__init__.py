"""The floor: settings, database pools, NATS connection, metrics, logging and
the error base classes. Imports nothing else of postlog."""
