"""balancer decoder (to be written)."""
