"""Synthetic specimens with continuous tumour and specimen surfaces and exact margin truth."""

from cases.phantoms.continuous.case import ContinuousCase, generate_continuous_case
from cases.phantoms.continuous.scene import WRAPPINGS

__all__ = ["WRAPPINGS", "ContinuousCase", "generate_continuous_case"]
