"""Pieces that are not HTTP: auth, schemas, storage, conversion, Onshape."""
