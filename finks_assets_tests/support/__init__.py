"""Test support: real servers (SeaweedFS, moto) started on loopback and torn down by tests."""
