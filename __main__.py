"""Composition root: the stack's target -> build -> exports. Nothing else lives here."""

import pulumi

from program import build
from stacks.loader import load_from_pulumi

for name, value in build(load_from_pulumi()).items():
    pulumi.export(name, value)
