"""The webhook intake: Komo POSTs land durably on RabbitMQ."""

from __future__ import annotations
