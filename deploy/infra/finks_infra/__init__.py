"""The Finks AWS foundation as a Pulumi (Python) program: see deploy/infra/__main__.py."""
