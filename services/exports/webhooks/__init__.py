"""Webhooks: users' subscriptions to events, and the delivery of every service's events to them
(signed, retried, in order per subject, checked against SSRF), all in the exports schema."""
