"""Development certificate authority and serving certificates for the webhook."""
