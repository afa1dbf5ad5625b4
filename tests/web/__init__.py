"""Tests of the console (server-rendered pages and a real browser)."""
