"""Blueprints: HTTP only. Each view parses the request, calls one service, renders or redirects."""
