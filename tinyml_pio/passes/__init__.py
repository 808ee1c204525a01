"""Generation-time passes over the lowered layers (between `ops.lower_graph` and the planner).

- `variants`: swap portable kernels for optimized variants the target CPU can run
  (library/src/kernels/arm/), chosen by the board's CPU features (tinyml_pio/cpu.py).
"""

from .variants import Variant, apply_variants, kernels_label, register_variant, registered_variants, variant_for

__all__ = ["Variant", "apply_variants", "kernels_label", "register_variant", "registered_variants", "variant_for"]
