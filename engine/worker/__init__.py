"""The job worker: claim, heartbeat, match, record decisions, complete under a lease."""
