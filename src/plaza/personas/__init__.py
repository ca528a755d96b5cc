"""Personas: strategic personas (segments) a merchant defines, personas a customer keeps for
themselves, the activity both are computed from, and recommendations."""
