"""Transactional messages: ``POST /api/tx``."""
