"""Ticket, organisation and intake services: the only layer that changes state and commits."""
