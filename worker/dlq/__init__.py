"""``komo-braze dlq``: see what failed and why, fix it, replay it, lose nothing."""
