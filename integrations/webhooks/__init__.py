"""Webhooks: signed deliveries out (Standard Webhooks) with retries, dead letters and replay; verified receivers in; campaign delivery."""
