"""Warm start: choose a base model (:mod:`.policies`) and copy its weights into a new Keras model (:mod:`.keras`)."""

from mlstore.warmstart.policies import (LOWER_IS_BETTER, POLICIES, Candidate, Compatibility, Selection,
                                        Skipped, select)

__all__ = ["LOWER_IS_BETTER", "POLICIES", "Candidate", "Compatibility", "Selection", "Skipped", "select"]
