"""Test-side helpers for cdgate's black-box tests (``lib.agent``)."""
