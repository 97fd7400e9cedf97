"""Pieces that are not HTTP: auth, schemas, storage, STEP conversion and its runner, backups,
Onshape. They are handed the request, the app or the values they need and read no Flask
globals (tests/test_import_layers.py checks it)."""
