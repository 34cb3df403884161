"""Running cases inside the service: API keys, the bounded work queue and its workers."""
