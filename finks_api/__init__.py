"""Finks data API: authenticated, read-only HTTP access to the gold tables.

``create_app`` (``finks_api.app``) builds the FastAPI application; ``finks-api`` (``finks_api.cli``)
serves it and manages API keys.
"""
