"""Finks benchmark harness (issue 8): `make bench`, see bench/__main__.py."""
