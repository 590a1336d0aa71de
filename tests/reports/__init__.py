"""Tests of the reports package: certificate, HTML, plugin (fast, no simulation)."""
