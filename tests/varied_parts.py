"""Fourteen varied parts, the rows the search, page and fragment tests read: short and long
text, every script the shop types, LIKE's and FTS5's special characters, digits, NULLs, and
case the scan folds. `tests/conftest.py` serves them as the `varied` fixture."""

from __future__ import annotations

# name, notes, subsystem, material, assigned: short and long text, every script the shop
# types, LIKE's and FTS5's special characters, digits, and case the scan folds.
ROWS = [
    ("Drive Gear", "Check tooth profile before cutting.", "Drive System", "7075 Aluminum", None),
    ("GEARBOX Plate", None, "Drive", "6061 Aluminum", "Hannah Müller"),
    ("Spur gear 9999", "part 2025-DRV-9999", "Intake", "Delrin", "HANNAH MÜLLER"),
    ("Shaft 99990", 'Use the 1/8" end mill', "Shooter", "Steel", "Sam Lee"),
    ("ratio 50%_1/4", "100% done_ok", "Arm", "PLA", "Zoë"),
    ("back\\slash part", 'say "hello" -- OR 1=1', "Arm", "HDPE", None),
    ("ΣΟΦΙΑ bracket", "οδος ΟΔΟΣ σίγμα", "Climber", "Plywood", "Σοφία"),
    ("İstanbul mount", "STRASSE straße Straße", "Turret", "Polycarbonate", "İlker"),
    ("\u212aelvin plate", "KELVIN kelvin", "Chassis", "Steel", "Kim"),
    ("emoji 🙂 rail", "smile 🙂🙂 twice", "Bumpers", "Plywood", "Aiko 田中"),
    ("日本語の部品", "ギア 歯車", "Electrical", "PLA", "田中 愛子"),
    ("a", "ab", "abc", "abcd", None),
    ("Upper Rib", "x" * 300 + "needle" + "y" * 300, "Elevator", "6061 Aluminum", None),
    (None, None, "Arm", "Steel", None),
]
