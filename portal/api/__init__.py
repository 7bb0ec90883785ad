"""The REST API, one module per concept; every view asks ``portal.access_policy`` who may see what."""
